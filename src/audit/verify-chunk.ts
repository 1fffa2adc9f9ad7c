import { decodeBase64Strict, verifySignature } from '../signing/verify.js';
import { isPlausibleSignatureLength } from '../signing/algorithms.js';
import { FindingSink, type Finding } from './findings.js';
import type { KeyRing } from './keyring.js';
import { CompactRange, type BinaryHash, type CompactRangeData } from './merkle.js';
import { isAscii } from 'node:buffer';
import { ChainClock, OldestTime } from './chain-clock.js';
import { chainDigestHex, digestRow, eventLeafBinary, parseRowLine, RowFormatError, type AuditRow } from './record.js';

/** A run of consecutive log lines, cut at newline boundaries. */
export interface ChunkJob {
  seq: number;
  /** 1-based chain index of the chunk's first line. */
  firstIndex: number;
  bytes: Uint8Array;
  /** Chain indexes whose digest the caller needs (the anchor's position). */
  wantDigestAt: number[];
  /** Checkpoint mode: build the chunk's Merkle range, with snapshots at these tree sizes. */
  merkle?: { wantRangeAt: number[] };
}

/** The chunk's part of the Merkle tree; `brokenAt` is the first event whose leaf is unknown (malformed). */
export interface ChunkMerkle {
  range: CompactRangeData | undefined;
  rangesAt: Record<number, CompactRangeData>;
  brokenAt?: number;
  /** Unsigned events (covered by checkpoints instead) as runs of chain indexes [first, last]. */
  unsigned?: [number, number][];
}

export interface ChunkResult {
  seq: number;
  count: number;
  /** The first row's prev_hash, or undefined when the first row is malformed. */
  first: { id: string; prevHash: string | null } | undefined;
  /** Hex digest of the last row, undefined when it is malformed. */
  lastDigest: string | undefined;
  digestsAt: Record<number, string>;
  findings: Finding[];
  /** Signatures to be checked by KMS (VerifyMac / Verify) on the main thread. */
  deferred: DeferredCheck[];
  merkle?: ChunkMerkle;
  /** The chunk's newest created_at (ms) and its oldest row, for the checks across chunks. */
  newestAt: number;
  oldest: { index: number; id: string; text: string; ms: number } | undefined;
  /**
   * Per kid: the signed rows that passed their window by this chunk's own clock. Judged again by
   * the stitcher against the newest time of the chunks before, and the hand-overs in them.
   */
  signedBy: Record<string, SignedRows>;
  /** signer.rotated events: the kid that handed over, and when (chain time) its window ends. */
  handOvers: HandOver[];
}

export interface SignedRows {
  first: number;
  id: string;
  count: number;
  validTo: number | undefined;
}

export interface HandOver {
  index: number;
  kid: string;
  endsAt: number;
}

/** What a worker sends back: the result, and the chunk's bytes for reuse. */
export interface WorkerReply {
  result: ChunkResult;
  bytes: Uint8Array;
}

export interface DeferredCheck {
  index: number;
  id: string;
  kid: string;
  keyId: string;
  /** Hex digest and base64 signature: plain data, so it crosses thread boundaries. */
  digest: string;
  signature: string;
  createdAt: string;
}

/**
 * Verifies everything about a chunk that does not need its neighbours: each row's shape, digest,
 * signature and validity window, and the links between rows inside the chunk. The caller stitches
 * chunk boundaries and the genesis rule, so chunks can be checked in parallel.
 */
export function verifyChunk(job: ChunkJob, keys: KeyRing): ChunkResult {
  const lines = new ChunkLines(Buffer.from(job.bytes.buffer, job.bytes.byteOffset, job.bytes.byteLength));
  const result: ChunkResult = {
    seq: job.seq,
    count: 0,
    first: undefined,
    lastDigest: undefined,
    digestsAt: {},
    findings: [],
    deferred: [],
    newestAt: Number.NEGATIVE_INFINITY,
    oldest: undefined,
    signedBy: {},
    handOvers: [],
  };
  const sink = new FindingSink();
  const clock = new ChainClock();
  const oldest = new OldestTime();
  const want = new Set(job.wantDigestAt);
  const tree = job.merkle ? new ChunkTree(job.firstIndex, job.merkle.wantRangeAt) : undefined;
  let prevDigest: string | undefined;
  for (let line = lines.next(); line !== undefined; line = lines.next()) {
    const index = job.firstIndex + result.count++;
    const row = parseOrReport(line, index, sink, prevDigest);
    if (!row) {
      prevDigest = undefined;
      tree?.break(index);
      continue;
    }
    if (index === job.firstIndex) result.first = { id: row.id, prevHash: row.prev_hash };
    else if (prevDigest !== undefined && row.prev_hash !== prevDigest) {
      sink.push(linkFinding(index, row, prevDigest));
    }
    const back = clock.observe(row.created_at);
    if (back > keys.slackMs) sink.push(backwardsFinding(index, row, back));
    oldest.observe(row.created_at, index, row.id);
    const unsigned = tree !== undefined && row.signature === null && row.signer_kid === null;
    // An unsigned event needs only the digest's hex (for the next link and its leaf).
    const signed = unsigned ? undefined : digestRow(row.payload, row.prev_hash);
    prevDigest = signed ? signed.digest.toString('hex') : chainDigestHex(row.payload, row.prev_hash);
    if (want.has(index)) result.digestsAt[index] = prevDigest;
    tree?.add(index, eventLeafBinary(row, prevDigest));
    if (unsigned) tree!.unsignedAt(index);
    else checkSignature(row, index, signed!, keys, result, clock, sink);
  }
  result.findings = sink.list();
  result.lastDigest = prevDigest;
  result.newestAt = clock.now;
  result.oldest = oldest.at;
  if (tree) result.merkle = tree.result();
  return result;
}

const MAX_RUNS = 10_000;

/** A chunk's leaves as a compact range from its own first index, snapshotted where checkpoints fall. */
class ChunkTree {
  private readonly range: CompactRange;
  private readonly want: Set<number>;
  private readonly out: ChunkMerkle = { range: undefined, rangesAt: {} };
  // A run per stretch of unsigned events, not an object per event. A hostile log that alternates
  // signed and unsigned events is bounded: past MAX_RUNS the last run swallows the rest.
  private readonly runs: [number, number][] = [];

  constructor(firstIndex: number, wantRangeAt: number[]) {
    this.range = new CompactRange(firstIndex - 1);
    this.want = new Set(wantRangeAt);
  }

  add(index: number, leaf: BinaryHash): void {
    if (this.out.brokenAt !== undefined) return;
    this.range.appendLeafBinary(leaf);
    if (this.want.has(index)) this.out.rangesAt[index] = this.range.toJSON();
  }

  break(index: number): void {
    this.out.brokenAt ??= index;
  }

  unsignedAt(index: number): void {
    const run = this.runs[this.runs.length - 1];
    if (run && (run[1] === index - 1 || this.runs.length >= MAX_RUNS)) run[1] = index;
    else this.runs.push([index, index]);
  }

  result(): ChunkMerkle {
    if (this.runs.length > 0) this.out.unsigned = this.runs;
    return this.out.brokenAt === undefined ? { ...this.out, range: this.range.toJSON() } : this.out;
  }
}

/**
 * A chunk's lines one at a time: each line and its parsed row die young, where an array of a
 * chunk's lines outlived the young generation and was copied by every scavenge. ASCII (the
 * common case) is cut line by line as latin1, which is the same text and about ten times faster
 * than decoding as UTF-8; anything else takes the UTF-8 decoder, whole.
 */
export class ChunkLines {
  private start = 0;
  private readonly decoded: string[] | undefined;

  constructor(private readonly bytes: Buffer) {
    if (isAscii(bytes)) return;
    this.decoded = bytes.toString('utf8').split('\n');
    if (this.decoded[this.decoded.length - 1] === '') this.decoded.pop();
  }

  next(): string | undefined {
    if (this.decoded) return this.start < this.decoded.length ? this.decoded[this.start++] : undefined;
    const { bytes, start } = this;
    if (start >= bytes.length) return undefined;
    const nl = bytes.indexOf(10, start);
    const end = nl === -1 ? bytes.length : nl;
    this.start = end + 1;
    return bytes.toString('latin1', start, end);
  }
}

function parseOrReport(
  line: string,
  index: number,
  findings: FindingSink,
  expectedPrev: string | undefined,
): AuditRow | undefined {
  try {
    return parseRowLine(line, expectedPrev);
  } catch (err) {
    if (!(err instanceof RowFormatError)) throw err;
    findings.push({ index, id: guessId(line), code: err.code, message: err.message });
    return undefined;
  }
}

// Best effort, for the finding only: a malformed row may still carry a readable id. Only the
// line's start is searched, so a huge line costs nothing more here.
function guessId(line: string): string | null {
  return /"id"\s*:\s*"([^"\\]{1,100})"/.exec(line.slice(0, 4096))?.[1] ?? null;
}

export function linkFinding(index: number, row: AuditRow, expected: string): Finding {
  return {
    index,
    id: row.id,
    code: 'PREV_HASH_MISMATCH',
    message: `prev_hash ${row.prev_hash ?? 'null'} does not match the previous event's digest ${expected}`,
    linksTo: row.prev_hash,
  };
}

export function backwardsFinding(index: number, row: AuditRow, backMs: number): Finding {
  return {
    index,
    id: row.id,
    code: 'CREATED_AT_BACKWARDS',
    message:
      `created_at ${row.created_at.slice(0, 40)} is ${Math.round(backMs / 1000)} s before an earlier event's: ` +
      'the time of an event is unsigned, and an event is no older than the events before it',
  };
}

function checkSignature(
  row: AuditRow,
  index: number,
  signed: ReturnType<typeof digestRow>,
  keys: KeyRing,
  result: ChunkResult,
  clock: ChainClock,
  findings: FindingSink,
): void {
  const found = (code: Finding['code'], message: string): void => {
    findings.push({ index, id: row.id, code, message });
  };
  if (row.signature === null || row.signature === '') return found('UNSIGNED', 'the event has no signature');
  if (row.signer_kid === null) return found('UNKNOWN_SIGNER', 'the event has a signature but no signer_kid');
  const lookup = keys.lookup(row.signer_kid);
  if (!lookup.ok) return found('UNKNOWN_SIGNER', lookup.reason);
  const signature = decodeBase64Strict(row.signature);
  if (!signature) return found('MALFORMED_ROW', 'signature is not standard base64');
  if (lookup.ok === 'kms') {
    result.deferred.push({
      index,
      id: row.id,
      kid: row.signer_kid,
      keyId: lookup.keyId,
      digest: signed.digest.toString('hex'),
      signature: row.signature,
      createdAt: row.created_at,
    });
    return checkWindow(row, index, lookup, keys.slackMs, clock, result, findings);
  }
  const key = lookup.key;
  if (!isPlausibleSignatureLength(key.alg, signature.length, 'publicKey' in key ? key.publicKey : undefined)) {
    return found('SIGNATURE_INVALID', `signature is ${signature.length} bytes, which ${key.alg} never produces`);
  }
  if (!verifySignature(key, signed, signature)) {
    return found(
      'SIGNATURE_INVALID',
      `${key.alg} signature by ${row.signer_kid} does not match the recomputed digest ${signed.digest.toString('hex')}`,
    );
  }
  checkWindow(row, index, lookup, keys.slackMs, clock, result, findings);
}

/**
 * The signer's window, judged by the chain's clock (the newest created_at up to this row), not by
 * the row's own time: a retired key cannot sign today by dating its event in the past. A key that
 * handed over (a signer.rotated event it signed) is valid for the overlap it named, from the
 * chain's time at the hand-over, whatever the registry says.
 */
function checkWindow(
  row: AuditRow,
  index: number,
  lookup: { validFrom?: number; validTo?: number },
  slackMs: number,
  clock: ChainClock,
  result: ChunkResult,
  findings: FindingSink,
): void {
  const kid = row.signer_kid!;
  const handOver = endOfHandOver(result.handOvers, kid);
  const validTo = minDefined(lookup.validTo, handOver?.endsAt);
  if (lookup.validFrom !== undefined || validTo !== undefined) {
    const problem = windowProblem(row, lookup.validFrom, validTo, handOver, slackMs, clock);
    if (problem) return void findings.push({ index, id: row.id, ...problem });
  }
  const seen = (result.signedBy[kid] ??= { first: index, id: row.id, count: 0, validTo: lookup.validTo });
  seen.count++;
  noteHandOver(row, index, clock, result);
}

function windowProblem(
  row: AuditRow,
  validFrom: number | undefined,
  validTo: number | undefined,
  handOver: HandOver | undefined,
  slackMs: number,
  clock: ChainClock,
): Pick<Finding, 'code' | 'message'> | undefined {
  if (Number.isNaN(Date.parse(row.created_at)))
    return {
      code: 'MALFORMED_ROW',
      message: `created_at "${row.created_at}" is not a timestamp, so the signer's validity window cannot be checked`,
    };
  const at = clock.now;
  if (validFrom !== undefined && at < validFrom - slackMs)
    return {
      code: 'SIGNER_NOT_VALID_AT',
      message: `signed at ${row.created_at}, before ${row.signer_kid} became valid (${iso(validFrom)})`,
    };
  if (validTo === undefined || at <= validTo + slackMs) return undefined;
  const why =
    handOver && handOver.endsAt === validTo
      ? `after ${row.signer_kid} handed over (signer.rotated, event ${handOver.index}) and its overlap ended`
      : `after ${row.signer_kid} was retired`;
  return {
    code: 'SIGNER_NOT_VALID_AT',
    message:
      `signed when the chain had reached ${new Date(at).toISOString()} ` +
      `(the event says ${row.created_at.slice(0, 40)}), ${why} (${new Date(validTo).toISOString()})`,
  };
}

const DAY_MS = 86_400_000;
const iso = (ms: number) => new Date(ms).toISOString();

/** A signer.rotated event, signed by the key that hands over, ends that key's window after its overlap. */
function noteHandOver(row: AuditRow, index: number, clock: ChainClock, result: ChunkResult): void {
  if (row.event_type !== 'signer.rotated' || row.signer_kid === null) return;
  const payload = row.payload as { overlap_days?: unknown } | null;
  const days = typeof payload?.overlap_days === 'number' && payload.overlap_days >= 0 ? payload.overlap_days : 0;
  const at = clock.now;
  if (!Number.isFinite(at)) return;
  result.handOvers.push({ index, kid: row.signer_kid, endsAt: at + days * DAY_MS });
}

export function endOfHandOver(handOvers: readonly HandOver[], kid: string): HandOver | undefined {
  let earliest: HandOver | undefined;
  for (const h of handOvers) if (h.kid === kid && (!earliest || h.endsAt < earliest.endsAt)) earliest = h;
  return earliest;
}

export const minDefined = (a: number | undefined, b: number | undefined): number | undefined =>
  a === undefined ? b : b === undefined ? a : Math.min(a, b);
