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
  /** The first lines are not JSON at all: the file is something else (a binary, the wrong --log). */
  | 'NOT_JSON_LINES'
  /** A line longer than MAX_LINE_BYTES: skipped unread (the rest of the log is still verified). */
  | 'LINE_TOO_LONG'
  /** JSON nested deeper than MAX_DEPTH: refused before anything walks it. */
  | 'TOO_DEEP'
  /** A member name twice in one object: a reader taking the first value sees something else than was signed. */
  | 'DUPLICATE_MEMBER'
  /** Failures past MAX_FINDINGS, counted by code instead of listed (memory stays flat on any input). */
  | 'FINDINGS_OMITTED'
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
  | 'ADOPTED'
  /** A notice: a v1 anchor verified, but is not domain-separated from events (the next append writes v2). */
  | 'ANCHOR_LEGACY';

/** Findings that do not fail verification on their own (exit 5 instead of 3). */
export const WARNING_CODES: ReadonlySet<FindingCode> = new Set<FindingCode>(['UNCHECKPOINTED', 'UNVOUCHED']);

/** Findings shown for the record that change no exit code. */
export const NOTICE_CODES: ReadonlySet<FindingCode> = new Set<FindingCode>(['ADOPTED', 'ANCHOR_LEGACY']);

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
  /** FINDINGS_OMITTED: how many of each code were counted and not listed. */
  omitted?: Record<string, number>;
}

/** How many problems the findings stand for: each listed one, and every one a FINDINGS_OMITTED counts. */
export function problemCount(findings: readonly Finding[]): number {
  let n = 0;
  for (const f of findings)
    n += f.code === 'FINDINGS_OMITTED' ? Object.values(f.omitted ?? {}).reduce((a, b) => a + b, 0) : 1;
  return n;
}

/** Failures listed per verification (and per chunk); the rest are counted. Warnings are always listed. */
export const MAX_FINDINGS = 1000;

/**
 * Findings with a cap: a log of garbage yields one finding a line, and a verifier that kept them
 * all would grow with the input. Warnings and notices (one per range) are kept whole; failures past
 * the cap become one FINDINGS_OMITTED finding with counts by code.
 */
export class FindingSink {
  private readonly kept: Finding[] = [];
  private failures = 0;
  private readonly omitted = new Map<string, number>();
  private firstOmitted: { index: number; id: string | null } | undefined;

  constructor(private readonly cap = MAX_FINDINGS) {}

  push(f: Finding): void {
    if (f.code === 'FINDINGS_OMITTED') return this.count(f, f.omitted ?? {});
    if (WARNING_CODES.has(f.code) || NOTICE_CODES.has(f.code) || this.failures < this.cap) {
      if (!WARNING_CODES.has(f.code) && !NOTICE_CODES.has(f.code)) this.failures++;
      this.kept.push(f);
      return;
    }
    this.count(f, { [f.code]: 1 });
  }

  pushAll(findings: readonly Finding[]): void {
    for (const f of findings) this.push(f);
  }

  private count(at: { index: number; id: string | null }, counts: Record<string, number>): void {
    for (const [code, n] of Object.entries(counts)) this.omitted.set(code, (this.omitted.get(code) ?? 0) + n);
    if (!this.firstOmitted || at.index < this.firstOmitted.index) this.firstOmitted = { index: at.index, id: at.id };
  }

  /** The kept findings, and one FINDINGS_OMITTED with the counts if any were left out. */
  list(): Finding[] {
    if (!this.firstOmitted) return this.kept;
    return [...this.kept, omittedFinding(this.firstOmitted, Object.fromEntries(this.omitted))];
  }
}

/** The FINDINGS_OMITTED finding at the first one left out, with the counts by code. */
function omittedFinding(at: Pick<Finding, 'index' | 'id'>, counts: Record<string, number>): Finding {
  const total = Object.values(counts).reduce((a, b) => a + b, 0);
  const by = Object.entries(counts)
    .map(([code, n]) => `${code} ×${n}`)
    .join(', ');
  return {
    ...at,
    code: 'FINDINGS_OMITTED',
    message: `${total} more failure(s) from here on are counted, not listed: ${by}`,
    omitted: counts,
  };
}

/** How many first lines, all not JSON, make a file "not a JSON Lines file". */
const NOT_JSON_LINES_AFTER = 3;
const isNotJson = (f: Finding) => f.code === 'MALFORMED_ROW' && f.message.startsWith('not JSON');

/**
 * A file whose first lines are not JSON at all is not an audit log with some bad rows but another
 * file (a binary, the wrong --log): its first lines are listed, then one NOT_JSON_LINES finding
 * counts the rest, instead of a finding a line. Anything else keeps its findings.
 */
export function collapseNotJsonLines(findings: readonly Finding[], events: number, label: string): Finding[] {
  const first = Math.min(NOT_JSON_LINES_AFTER, events);
  const head = findings.filter((f) => f.index >= 1 && f.index <= first && isNotJson(f));
  if (first === 0 || head.length < first) return [...findings];
  const omitted = (f: Finding) => (f.code === 'FINDINGS_OMITTED' ? (f.omitted?.MALFORMED_ROW ?? 0) : 0);
  const malformed = findings.reduce((n, f) => n + (f.code === 'MALFORMED_ROW' ? 1 : omitted(f)), 0);
  const rest = findings.flatMap((f): Finding[] => {
    if (f.code === 'MALFORMED_ROW') return [];
    if (f.code !== 'FINDINGS_OMITTED' || !f.omitted?.MALFORMED_ROW) return [f];
    const { MALFORMED_ROW: _, ...others } = f.omitted;
    return Object.keys(others).length > 0 ? [omittedFinding(f, others)] : [];
  });
  const summary: Finding = {
    index: 0,
    id: null,
    code: 'NOT_JSON_LINES',
    message:
      `${label} is not a JSON Lines file: its first ${first} line(s) are not JSON ` +
      `(${malformed} of its ${events} lines are malformed); is --log the audit log?`,
  };
  return [...head, summary, ...rest];
}
