import { availableParallelism } from 'node:os';
import { verifySignature, decodeBase64Strict } from '../signing/verify.js';
import type { LineChunk, SpareBuffers } from './line-chunks.js';
import { anchorSignedBytes, LEGACY_ANCHOR_FORMAT, parseAnchor, type Anchor } from './anchor.js';
import { ChunkPool, MAX_WORKER_CHUNK_BYTES } from './chunk-pool.js';
import { exitCodeOfFindings, FindingSink, type Finding } from './findings.js';
import { openCheckpoints, TreeStitcher, type CheckpointSummary } from './verify-checkpoints.js';
import { KeyRing, type KeyRingData } from './keyring.js';
import {
  endOfHandOver,
  minDefined,
  verifyChunk,
  type ChunkJob,
  type ChunkResult,
  type DeferredCheck,
  type HandOver,
} from './verify-chunk.js';

export interface VerifyOptions {
  keys: KeyRingData;
  /** A digest the operator trusts as the predecessor of the first row (a checkpoint). */
  trustedStart?: string;
  /** Anchor file text, if there is one. */
  anchorText?: string;
  /** Anchors from elsewhere (a witness): each is held to the log like the anchor file. */
  extraAnchors?: readonly string[];
  /** Checkpoint notes kept beside the chain; any at all switches on checkpoint mode. */
  checkpoints?: readonly string[];
  /** The origin the checkpoints must name (--origin); others are CHECKPOINT_ORIGIN_MISMATCH. */
  expectedOrigin?: string;
  /** Worker threads; 0 verifies on the calling thread. Default: cores when the input is large. */
  workers?: number;
  /** Checks signatures the key ring hands to KMS; returns a finding for each that fails. */
  checkDeferred?: (checks: DeferredCheck[]) => Promise<Finding[]>;
  /** Events verified so far and bytes read, as chunks complete (for a progress line). */
  onProgress?: (events: number, bytes: number) => void;
  /** Where verified chunks' buffers go back to, when the chunks' reader reuses them. */
  spare?: SpareBuffers;
  /** How the operator named the log (its path or redacted URL), for the commands in findings. */
  logRef?: string;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  head: string | null;
  findings: Finding[];
  anchor: { events: number; head: string } | null;
  workers: number;
  checkpoints: CheckpointSummary | null;
}

/** Size from which starting worker threads pays for itself. */
export const PARALLEL_THRESHOLD_BYTES = 1 << 20;

export function defaultWorkerCount(totalBytes: number): number {
  return totalBytes >= PARALLEL_THRESHOLD_BYTES ? Math.min(availableParallelism(), 8) : 0;
}

/**
 * Verifies a chain given as chunks of lines in chain order: every digest recomputed, every link,
 * every signature, the genesis rule and the anchor. Chunks are checked in parallel and stitched
 * in order, with at most a few chunks in memory at once.
 */
export async function verifyChain(chunks: AsyncIterable<LineChunk>, opts: VerifyOptions): Promise<VerifyReport> {
  const workers = opts.workers ?? 0;
  const keyRing = new KeyRing(opts.keys);
  const anchor = opts.anchorText === undefined ? undefined : parseAnchor(opts.anchorText);
  const stitcher = new Stitcher(opts.trustedStart, keyRing.slackMs);
  const extraAnchors = (opts.extraAnchors ?? []).map((text) => parseAnchor(text));
  const wantDigestAt = [anchor, ...extraAnchors].flatMap((a) => (typeof a === 'object' ? [a.events] : []));
  const notes = opts.checkpoints ?? [];
  const opened = notes.length > 0 ? openCheckpoints(notes, keyRing, opts.expectedOrigin) : undefined;
  const merkle = opened ? { wantRangeAt: opened.valid.map((c) => c.size) } : undefined;
  const tree = new TreeStitcher(opts.logRef);
  const giveBack = (buffer: ArrayBuffer) => opts.spare?.give(buffer);
  const pool = workers > 0 ? new ChunkPool(workers, opts.keys, giveBack) : undefined;
  let bytesRead = 0;
  const stitch = async (result: ChunkResult) => {
    stitcher.add(result);
    tree.add(result.merkle);
    opts.onProgress?.(stitcher.events, bytesRead);
    if (result.deferred.length === 0) return;
    if (!opts.checkDeferred) throw new Error('KMS verification requested without a KMS checker');
    stitcher.findings.pushAll(await opts.checkDeferred(result.deferred));
  };
  try {
    const inFlight: Promise<ChunkResult>[] = [];
    let seq = 0;
    let nextIndex = 1;
    for await (const chunk of chunks) {
      bytesRead += chunk.bytes.length;
      const job: ChunkJob = {
        seq: seq++,
        firstIndex: nextIndex,
        bytes: chunk.bytes,
        wantDigestAt,
        ...(merkle ? { merkle } : {}),
      };
      nextIndex += chunk.lines;
      const inWorker = pool && chunk.bytes.length <= MAX_WORKER_CHUNK_BYTES;
      inFlight.push(inWorker ? pool.run(job) : Promise.resolve(verifyInline(job, keyRing, giveBack)));
      // Bounded look-ahead keeps memory flat while every worker stays fed.
      while (inFlight.length > Math.max(2, workers * 2)) await stitch(await inFlight.shift()!);
    }
    for (const pending of inFlight) await stitch(await pending);
  } finally {
    await pool?.close();
  }
  const findings = stitcher.findings.list();
  if (anchor !== undefined) findings.push(...(await checkAnchor(anchor, stitcher, keyRing, opts.checkDeferred)));
  for (const witnessed of extraAnchors) {
    const problems = await checkAnchor(witnessed, stitcher, keyRing, opts.checkDeferred);
    findings.push(...problems.map((f) => ({ ...f, message: `witnessed anchor: ${f.message}` })));
  }
  let checkpoints: CheckpointSummary | null = null;
  if (opened) {
    const checked = tree.check(opened.valid, stitcher.events);
    findings.push(...opened.findings, ...checked.findings);
    const origin = opened.valid[0]?.origin ?? null;
    checkpoints = { found: notes.length, verified: opened.valid.length, coveredEvents: checked.coveredEvents, origin };
  }
  findings.sort((a, b) => a.index - b.index);
  return {
    ok: exitCodeOfFindings(findings) !== 3,
    events: stitcher.events,
    head: stitcher.head ?? null,
    findings,
    anchor: typeof anchor === 'object' ? { events: anchor.events, head: anchor.head } : null,
    workers,
    checkpoints,
  };
}

function verifyInline(job: ChunkJob, keyRing: KeyRing, giveBack: (buffer: ArrayBuffer) => void): ChunkResult {
  const result = verifyChunk(job, keyRing);
  giveBack(job.bytes.buffer as ArrayBuffer); // the result holds copies only
  return result;
}

/** Joins chunk results in order: boundary links, the genesis rule, the running head. */
class Stitcher {
  events = 0;
  head: string | undefined;
  readonly findings = new FindingSink();
  readonly digestsAt: Record<number, string> = {};
  /** The newest created_at of the chunks stitched so far (the chain's clock). */
  private newestAt = Number.NEGATIVE_INFINITY;
  /** signer.rotated hand-overs of the chunks stitched so far. */
  private readonly handOvers: HandOver[] = [];

  constructor(
    private readonly trustedStart: string | undefined,
    private readonly slackMs: number,
  ) {}

  add(result: ChunkResult): void {
    const firstIndex = this.events + 1;
    if (result.first) this.checkFirstLink(firstIndex, result.first);
    this.findings.pushAll(result.findings);
    this.checkClock(result);
    Object.assign(this.digestsAt, result.digestsAt);
    this.events += result.count;
    this.head = result.lastDigest;
  }

  /** What a chunk could not judge alone: its times against the newest time of the chunks before it. */
  private checkClock(result: ChunkResult): void {
    const before = this.newestAt;
    const oldest = result.oldest;
    const flagged = (index: number) =>
      result.findings.some((f) => f.index === index && f.code === 'CREATED_AT_BACKWARDS');
    if (oldest && oldest.ms < before - this.slackMs && !flagged(oldest.index)) {
      this.findings.push({
        index: oldest.index,
        id: oldest.id,
        code: 'CREATED_AT_BACKWARDS',
        message:
          `created_at ${oldest.text.slice(0, 40)} is ${Math.round((before - oldest.ms) / 1000)} s before an ` +
          "earlier event's: the time of an event is unsigned, and an event is no older than the events before it",
      });
    }
    for (const [kid, rows] of Object.entries(result.signedBy)) {
      const handOver = endOfHandOver(this.handOvers, kid);
      const validTo = minDefined(rows.validTo, handOver?.endsAt);
      if (validTo === undefined || before <= validTo + this.slackMs) continue;
      const why =
        handOver && handOver.endsAt === validTo ? `its hand-over at event ${handOver.index} ended` : 'it was retired';
      this.findings.push({
        index: rows.first,
        id: rows.id,
        code: 'SIGNER_NOT_VALID_AT',
        message:
          `${rows.count} event(s) from here on are signed by ${kid} when the chain had reached ` +
          `${new Date(before).toISOString()}, after ${why} (${new Date(validTo).toISOString()})`,
      });
    }
    this.handOvers.push(...result.handOvers);
    this.newestAt = Math.max(before, result.newestAt);
  }

  private checkFirstLink(index: number, first: { id: string; prevHash: string | null }): void {
    if (index === 1) {
      this.checkGenesis(first);
      return;
    }
    if (this.head !== undefined && first.prevHash !== this.head) {
      this.findings.push({
        index,
        id: first.id,
        code: 'PREV_HASH_MISMATCH',
        message: `prev_hash ${first.prevHash ?? 'null'} does not match the previous event's digest ${this.head}`,
        linksTo: first.prevHash,
      });
    }
  }

  private checkGenesis(first: { id: string; prevHash: string | null }): void {
    if (this.trustedStart !== undefined) {
      if (first.prevHash !== this.trustedStart) {
        this.findings.push({
          index: 1,
          id: first.id,
          code: 'PREV_HASH_MISMATCH',
          message: `prev_hash ${first.prevHash ?? 'null'} is not the trusted starting digest ${this.trustedStart}`,
        });
      }
    } else if (first.prevHash !== null) {
      this.findings.push({
        index: 1,
        id: first.id,
        code: 'GENESIS_NOT_NULL',
        message:
          `the first event links to ${first.prevHash}, which is not in the log: earlier ` +
          `events are missing (pass --from DIGEST if the log starts at a trusted checkpoint)`,
      });
    }
  }
}

async function checkAnchor(
  anchor: Anchor | string,
  chain: Stitcher,
  keys: KeyRing,
  checkDeferred: VerifyOptions['checkDeferred'],
): Promise<Finding[]> {
  const bad = (code: Finding['code'], index: number, message: string): Finding[] => [
    { index, id: null, code, message },
  ];
  if (typeof anchor === 'string') return bad('ANCHOR_INVALID', 0, `anchor unusable: ${anchor}`);
  const lookup = keys.lookup(anchor.signer_kid);
  if (!lookup.ok) return bad('ANCHOR_INVALID', 0, `anchor signer: ${lookup.reason}`);
  const signature = decodeBase64Strict(anchor.signature);
  const signed = anchorSignedBytes(anchor);
  const valid = !signature
    ? false
    : lookup.ok === 'kms'
      ? checkDeferred !== undefined &&
        (
          await checkDeferred([
            {
              index: 0,
              id: 'anchor',
              kid: anchor.signer_kid,
              keyId: lookup.keyId,
              digest: signed.digest.toString('hex'),
              signature: anchor.signature,
              createdAt: anchor.updated_at,
            },
          ])
        ).length === 0
      : verifySignature(lookup.key, signed, signature);
  if (!valid) {
    return bad('ANCHOR_INVALID', 0, `the anchor's signature by ${anchor.signer_kid} does not verify`);
  }
  if (chain.events < anchor.events) return truncation(anchor, chain);
  const digest = chain.digestsAt[anchor.events];
  if (digest !== anchor.head) {
    return bad(
      'ANCHOR_MISMATCH',
      anchor.events,
      `event ${anchor.events} has digest ${digest ?? '(unreadable)'} but the signed anchor records ${anchor.head}`,
    );
  }
  if (anchor.format === LEGACY_ANCHOR_FORMAT)
    return bad(
      'ANCHOR_LEGACY',
      0,
      'the anchor is format v1, whose signed bytes a genesis event could share; the next sign rewrites it as v2',
    );
  return [];
}

/**
 * Fewer events than the anchor: where they went is told by the head. If the last event is still
 * the anchor's head, the tail is intact and the missing events were cut before it, at the first
 * broken link (GENESIS_NOT_NULL, ORPHAN, PREV_HASH_MISMATCH); otherwise the tail was cut.
 */
function truncation(anchor: Anchor, chain: Stitcher): Finding[] {
  const missing = anchor.events - chain.events;
  if (chain.head === anchor.head) {
    const brokenLink = chain.findings
      .list()
      .filter((f) => LINK_CODES.has(f.code))
      .sort((a, b) => a.index - b.index)[0];
    const where = brokenLink ? `before event ${brokenLink.index} (${brokenLink.code})` : 'before the last event';
    return [
      {
        index: brokenLink?.index ?? chain.events,
        id: brokenLink?.id ?? null,
        code: 'TRUNCATED',
        message:
          `the signed anchor records ${anchor.events} events but the log has ${chain.events}: ` +
          `${missing} event(s) were removed ${where}; the last event still matches the anchor's head`,
      },
    ];
  }
  return [
    {
      index: chain.events + 1,
      id: null,
      code: 'TRUNCATED',
      message:
        `the signed anchor records ${anchor.events} events but the log has ${chain.events}: ` +
        `events ${chain.events + 1}..${anchor.events} are missing from the end`,
    },
  ];
}

const LINK_CODES = new Set<Finding['code']>(['GENESIS_NOT_NULL', 'ORPHAN', 'PREV_HASH_MISMATCH']);
