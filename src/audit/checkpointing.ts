// Checkpoint mode's writer side: events go onto the chain unsigned under the chain lock, and
// checkpoints are signed afterwards, outside it (src/audit/checkpoint-writer.ts). A signer (KMS
// or local) is called once per checkpoint, never once per event.
import type { AuditSigner } from '../signing/signer.js';
import { assertIJsonValue } from './canonical.js';
import type { ChainAppender, ChainHead, CheckpointLog } from './chain.js';
import type { CheckpointSigner } from './checkpoint.js';
import {
  CheckpointWriter,
  type CheckpointPolicy,
  type CheckpointRun,
  type WriterOptions,
} from './checkpoint-writer.js';
import { logName } from './origin.js';
import { digestRow, newRowId, type AuditRow, type NewEvent } from './record.js';

export type { CheckpointPolicy, CheckpointRun } from './checkpoint-writer.js';

/**
 * Checkpoint mode's write: the writer proves the log first (nothing is appended to a log it cannot
 * vouch for), appends the events unsigned under the chain lock, then signs checkpoints over them.
 * `afterAppend` runs between the two (a test stops a writer there).
 */
export async function appendWithCheckpoints(
  store: ChainAppender & CheckpointLog,
  signer: AuditSigner & Partial<CheckpointSigner>,
  events: readonly NewEvent[],
  policy: CheckpointPolicy,
  opts: WriterOptions & { afterAppend?: () => Promise<void> },
): Promise<{ rows: AuditRow[]; head: ChainHead; checkpointed: CheckpointRun }> {
  const writer = await CheckpointWriter.open(store, signer, policy, opts);
  const { rows, head } = await appendUnsignedEvents(store, events);
  writer.appended(rows);
  await opts.afterAppend?.();
  return { rows, head, checkpointed: await writer.sign() };
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

/** The origin logs carried before genesis-derived origins (origin.ts): agentkeys.local/<log name>. */
export function defaultOrigin(log: string): string {
  return `agentkeys.local/${logName(log)}`;
}

export interface SchedulerPolicy extends Omit<CheckpointPolicy, 'minIntervalMs'> {
  /** A checkpoint this often while events wait uncovered (ms); none when 0 or absent. */
  intervalMs?: number;
}

/**
 * Checkpoints for a long-running writer (the mcp server): after every `every` events, every
 * `intervalMs` while any event is uncovered, and once more at close. Signing never holds up an
 * append: it runs after the appends it covers, one checkpoint at a time, and each checkpoint
 * answers for this writer's own events only.
 */
export class CheckpointScheduler {
  private uncovered = 0;
  private signing: Promise<unknown> = Promise.resolve();
  private readonly timer: NodeJS.Timeout | undefined;
  private failure: unknown;

  private constructor(
    private readonly writer: CheckpointWriter,
    private readonly policy: SchedulerPolicy,
  ) {
    if (policy.intervalMs) {
      this.timer = setInterval(() => void (this.uncovered > 0 && this.checkpoint()), policy.intervalMs);
      this.timer.unref();
    }
  }

  /** Proves the log first (CheckpointWriter.open): a writer never starts on a log it cannot vouch for. */
  static async open(
    log: CheckpointLog,
    signer: AuditSigner & Partial<CheckpointSigner>,
    policy: SchedulerPolicy,
    opts: WriterOptions,
  ): Promise<CheckpointScheduler> {
    const { intervalMs: _interval, ...writerPolicy } = policy;
    return new CheckpointScheduler(await CheckpointWriter.open(log, signer, writerPolicy, opts), policy);
  }

  /** Tells the scheduler which events this writer appended. */
  appended(rows: readonly AuditRow[]): void {
    this.writer.appended(rows);
    this.uncovered += rows.length;
    if (this.policy.every && this.uncovered >= this.policy.every) void this.checkpoint();
  }

  /** A checkpoint now over what is uncovered, awaited; rethrows a failed one. */
  async flush(): Promise<void> {
    if (this.uncovered > 0) await this.checkpoint();
    await this.signing;
    if (this.failure) throw this.failure;
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
    this.signing = this.signing.then(() => this.writer.sign().catch((err) => (this.failure ??= err)));
    return this.signing;
  }
}
