/** Finding codes of verify-audit (product.md); scripts match on these. */
export type FindingCode =
  | 'SIGNATURE_INVALID'
  | 'PREV_HASH_MISMATCH'
  | 'GENESIS_NOT_NULL'
  | 'UNKNOWN_SIGNER'
  | 'UNSIGNED'
  | 'SIGNER_NOT_VALID_AT'
  | 'FORK'
  | 'ORPHAN'
  | 'MALFORMED_ROW'
  | 'TRUNCATED'
  | 'ANCHOR_INVALID'
  | 'ANCHOR_MISMATCH'
  | 'CHECKPOINT_MALFORMED'
  | 'CHECKPOINT_SIGNATURE_INVALID'
  | 'CHECKPOINT_UNSIGNED'
  | 'CHECKPOINT_ROOT_MISMATCH'
  | 'CHECKPOINT_ORIGIN_MISMATCH'
  /** A warning, not a failure: events after the newest checkpoint, not yet covered by a signature. */
  | 'UNCHECKPOINTED';

/** Findings that do not fail verification on their own (exit 5 instead of 3). */
export const WARNING_CODES: ReadonlySet<FindingCode> = new Set<FindingCode>(['UNCHECKPOINTED']);

export interface Finding {
  /** 1-based position in chain order; 0 for findings about the anchor itself. */
  index: number;
  id: string | null;
  code: FindingCode;
  message: string;
  /** PREV_HASH_MISMATCH, FORK and ORPHAN: the digest the row says it follows. */
  linksTo?: string | null;
}
