/** Finding codes of verify-audit (product.md); scripts match on these. */
export type FindingCode =
  | 'SIGNATURE_INVALID'
  | 'PREV_HASH_MISMATCH'
  | 'GENESIS_NOT_NULL'
  | 'UNKNOWN_SIGNER'
  | 'UNSIGNED'
  | 'SIGNER_NOT_VALID_AT'
  /** created_at earlier than an earlier event's by more than --slack (time is unsigned). */
  | 'CREATED_AT_BACKWARDS'
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
  /** A witness object whose key disagrees with the checkpoint inside it (or holds none). */
  | 'WITNESS_KEY_MISMATCH'
  /** A warning, not a failure: events after the newest checkpoint, not yet covered by a signature. */
  | 'UNCHECKPOINTED'
  /** A warning: unsigned events inside a signed tree that no checkpoint's writer vouched for. */
  | 'UNVOUCHED'
  /** A notice: unsigned events an operator adopted on the record (audit checkpoint --adopt). */
  | 'ADOPTED';

/** Findings that do not fail verification on their own (exit 5 instead of 3). */
export const WARNING_CODES: ReadonlySet<FindingCode> = new Set<FindingCode>(['UNCHECKPOINTED', 'UNVOUCHED']);

/** Findings shown for the record that change no exit code. */
export const NOTICE_CODES: ReadonlySet<FindingCode> = new Set<FindingCode>(['ADOPTED']);

/** 0 intact, 5 intact with warnings, 3 not intact. */
export function exitCodeOfFindings(findings: readonly Finding[]): 0 | 3 | 5 {
  if (findings.some((f) => !WARNING_CODES.has(f.code) && !NOTICE_CODES.has(f.code))) return 3;
  return findings.some((f) => WARNING_CODES.has(f.code)) ? 5 : 0;
}

export interface Finding {
  /** 1-based position in chain order; 0 for findings about the anchor itself. */
  index: number;
  id: string | null;
  code: FindingCode;
  message: string;
  /** PREV_HASH_MISMATCH, FORK and ORPHAN: the digest the row says it follows. */
  linksTo?: string | null;
}
