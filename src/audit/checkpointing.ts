// Checkpoint mode's writer side: events go onto the chain unsigned under the chain lock, and
// checkpoints are signed afterwards, outside it, over whatever the log holds by then. A signer
// (KMS or local) is called once per checkpoint, never once per event.
import type { AuditSigner } from '../signing/signer.js';
import { assertIJsonValue } from './canonical.js';
import type { ChainAppender, ChainHead, CheckpointLog, TreeState } from './chain.js';
import { signCheckpoint, type CheckpointSigner } from './checkpoint.js';
import { CompactRange } from './merkle.js';
import { digestRow, eventLeafHash, newRowId, type AuditRow, type NewEvent } from './record.js';

export interface CheckpointPolicy {
  /** The log's identity in every checkpoint (C2SP origin line). */
  origin: string;
  /** A checkpoint at every tree size that is a multiple of this; one at the end regardless. */
  every?: number;
  /**
   * With this (ms), the checkpoint at the end is signed only when the newest checkpoint is at
   * least this old: a caller appending an event per call signs about once per interval, and the
   * events in between stay uncovered (UNCHECKPOINTED) until a later call or `audit checkpoint`.
   */
  minIntervalMs?: number;
}

export interface CheckpointRun {
  /** Tree sizes checkpointed, in order. */
  sizes: number[];
  root: string | null;
  signatures: number;
  /** The signed notes, for a witness. */
  notes: string[];
  /** Events left for a later checkpoint (minIntervalMs not yet elapsed). */
  uncovered: number;
}

/** Links the events onto the chain with no signature (they are covered by the next checkpoint). */
export async function appendUnsignedEvents(
  store: ChainAppender,
  events: readonly NewEvent[],
  now: () => Date = () => new Date(),
): Promise<{ rows: AuditRow[]; head: ChainHead }> {
  for (const e of events) assertIJsonValue(e.payload);
  if (store.appendUnsigned) return store.appendUnsigned(events, now);
  let rows: AuditRow[] = [];
  const head = await store.append(async (current) => {
    rows = linkUnsignedEvents(events, current.prevHash, now);
    return rows;
  });
  return { rows, head };
}

/** The rows of unsigned events linked from `start`, as a store writes them. */
export function linkUnsignedEvents(events: readonly NewEvent[], start: string | null, now: () => Date): AuditRow[] {
  let prevHash = start;
  return events.map((event) => {
    const row: AuditRow = {
      id: newRowId(),
      actor_id: event.actor_id,
      event_type: event.event_type,
      payload: event.payload,
      signature: null,
      signer_kid: null,
      prev_hash: prevHash,
      created_at: now().toISOString(),
    };
    prevHash = digestRow(event.payload, prevHash).digest.toString('hex');
    return row;
  });
}

/**
 * Signs checkpoints over the log from the newest checkpointed state to its end: one at each
 * multiple of `every` on the way, and one at the end. Reads only the events after that state.
 */
export async function signCheckpoints(
  log: CheckpointLog,
  signer: AuditSigner & Partial<CheckpointSigner>,
  policy: CheckpointPolicy,
  now: () => Date = () => new Date(),
): Promise<CheckpointRun> {
  const last = await log.latestTreeState();
  const range = last ? CompactRange.fromJSON(last.range) : new CompactRange();
  const run: CheckpointRun = { sizes: [], root: null, signatures: 0, notes: [], uncovered: 0 };
  // Written after the read: a database store reads and writes on one connection.
  const signed: { state: TreeState; note: string }[] = [];
  let position = last?.position ?? 0;
  const checkpoint = async () => {
    const root = range.root();
    const state: TreeState = { size: range.end, position, range: range.toJSON() };
    signed.push({ state, note: await signCheckpoint({ origin: policy.origin, size: range.end, root }, signer) });
    run.sizes.push(range.end);
    run.root = root.toString('hex');
    run.signatures++;
  };
  for await (const { row, position: after } of log.rowsAfter(last)) {
    range.appendLeaf(eventLeafHash(row, digestRow(row.payload, row.prev_hash).digest.toString('hex')));
    position = after;
    if (policy.every && range.end % policy.every === 0) await checkpoint();
  }
  const pending = range.end - (run.sizes.at(-1) ?? last?.size ?? 0);
  if (pending > 0 && newestIsRecent(run.sizes.length > 0 ? now() : last?.signedAt, policy.minIntervalMs, now()))
    run.uncovered = pending;
  else if (pending > 0) await checkpoint();
  for (const { state, note } of signed) await log.appendCheckpoint(state, note);
  run.notes = signed.map((s) => s.note);
  return run;
}

function newestIsRecent(signedAt: Date | undefined, intervalMs: number | undefined, now: Date): boolean {
  return intervalMs !== undefined && signedAt !== undefined && now.getTime() - signedAt.getTime() < intervalMs;
}

/** The default origin: the log's file name, as a schema-less name with no spaces or '+'. */
export function defaultOrigin(log: string): string {
  const base = log.split(/[\\/]/).pop() ?? 'audit';
  return `agentkeys.local/${base.replace(/[^A-Za-z0-9._-]/g, '-') || 'audit'}`;
}

export interface SchedulerPolicy extends Omit<CheckpointPolicy, 'minIntervalMs'> {
  /** A checkpoint this often while events wait uncovered (ms); none when 0 or absent. */
  intervalMs?: number;
}

/**
 * Checkpoints for a long-running writer (the mcp server): after every `every` events, every
 * `intervalMs` while any event is uncovered, and once more at close. Signing never holds up an
 * append: it runs after the appends it covers, one checkpoint at a time.
 */
export class CheckpointScheduler {
  private uncovered = 0;
  private signing: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  constructor(
    private readonly log: CheckpointLog,
    private readonly signer: AuditSigner & Partial<CheckpointSigner>,
    private readonly policy: SchedulerPolicy,
  ) {
    if (policy.intervalMs) {
      this.timer = setInterval(() => void (this.uncovered > 0 && this.checkpoint()), policy.intervalMs);
      this.timer.unref();
    }
  }

  /** Tells the scheduler that `n` events were appended. */
  appended(n: number): void {
    this.uncovered += n;
    if (this.policy.every && this.uncovered >= this.policy.every) void this.checkpoint();
  }

  /** The last checkpoint, covering everything appended; rethrows a failed scheduled one. */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.uncovered > 0) await this.checkpoint();
    await this.signing;
    if (this.failure) throw this.failure;
  }

  private checkpoint(): Promise<unknown> {
    this.uncovered = 0;
    // Each run covers everything the log holds by then, including events of other writers.
    this.signing = this.signing.then(() =>
      signCheckpoints(this.log, this.signer, { origin: this.policy.origin }).catch((err) => (this.failure ??= err)),
    );
    return this.signing;
  }
}
