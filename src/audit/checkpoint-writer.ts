// Checkpoint mode's writer: it vouches only for what it can vouch for. Before it appends, it
// proves that the log extends the newest signed checkpoint it can reach (the store's, and a
// witness's when one is given) and that no unsigned event has waited long for a checkpoint; after
// it appends, it signs checkpoints whose tree grows from that proven state, naming in each the
// events it wrote itself. Events it did not write stay unvouched until their own writer signs, or
// an operator adopts them on the record (adoptUncovered).
import { VerificationError } from '../errors.js';
import type { AuditSigner } from '../signing/signer.js';
import type { CheckpointLog, CheckpointRecord, TreeState } from './chain.js';
import { openCheckpoint, signCheckpoint, type Checkpoint, type CheckpointSigner } from './checkpoint.js';
import { findOrigin, NEWEST_RECORDS } from './origin.js';
import type { AuditRow } from './record.js';
import {
  advance,
  cursorAtCheckpoint,
  cursorSize,
  diverged,
  emptyCursor,
  newestValid,
  openRecords,
  stateOf,
  type KeyOf,
  type TreeCursor,
  type VerifiedCheckpoint,
} from './tree-cursor.js';
import {
  describeRanges,
  formatVouching,
  MAX_RANGES_PER_CHECKPOINT,
  parseVouching,
  RangeSet,
  subtract,
  type EventRange,
} from './vouch.js';

export interface CheckpointPolicy {
  /** The log's identity in every checkpoint (C2SP origin line); found from the log when absent (origin.ts). */
  origin?: string;
  /** A checkpoint at every tree size that is a multiple of this; one at the end regardless. */
  every?: number;
  /**
   * With this (ms), the checkpoint at the end is signed only when the newest checkpoint is at
   * least this old: a caller appending an event per call signs about once per interval, and the
   * events in between stay uncovered (UNCHECKPOINTED) until a later call or `audit checkpoint --adopt`.
   */
  minIntervalMs?: number;
}

export interface CheckpointRun {
  /** The log's origin the checkpoints name. */
  origin: string | undefined;
  /** Tree sizes checkpointed, in order. */
  sizes: number[];
  root: string | null;
  signatures: number;
  /** The signed notes, for a witness. */
  notes: string[];
  /** Events left for a later checkpoint (minIntervalMs not yet elapsed). */
  uncovered: number;
}

export interface WriterOptions {
  /** Trusted keys by kid: the verifier registry and the writer's own key. */
  keyOf: KeyOf;
  /** The log as messages show it. */
  label: string;
  /** Notes a witness holds: the log must hold their trees too. */
  witnessed?: readonly string[];
  now?: () => Date;
  /**
   * Unsigned events after the newest checkpoint older than this (by created_at) are no live
   * writer's: a killed writer's tail, events written around agentkeys, or forged. Default 5 min.
   */
  staleAfterMs?: number;
}

type Signer = AuditSigner & Partial<CheckpointSigner>;

export const DEFAULT_STALE_AFTER_MS = 5 * 60_000;

export class CheckpointWriter {
  /** Events this writer appended and has not yet found in the log, by id. */
  private readonly pending = new Set<string>();
  /** Where they were found: positions the writer's checkpoints may vouch for. */
  private readonly own = new RangeSet();
  private vouchedUpTo: number;

  private constructor(
    private readonly log: CheckpointLog,
    private readonly signer: Signer,
    private readonly policy: CheckpointPolicy,
    private readonly opts: WriterOptions,
    private readonly cursor: TreeCursor,
    /** The tree size of the newest signed checkpoint the writer proved, and when it was written. */
    private readonly base: { size: number; signedAt: Date | undefined },
    /** Undefined only for a log that was empty: its genesis event, appended since, will name it. */
    private origin: string | undefined,
  ) {
    this.vouchedUpTo = base.size;
  }

  /** Proves the log extends its newest signed state, and reads what came after it. */
  static async open(
    log: CheckpointLog,
    signer: Signer,
    policy: CheckpointPolicy,
    opts: WriterOptions,
  ): Promise<CheckpointWriter> {
    const newest = await log.checkpointRecords({ newest: NEWEST_RECORDS });
    // One pass over the newest records: the largest trusted checkpoint names the origin and is the base.
    const top = newestValid(newest, opts.keyOf, policy.origin);
    const origin = policy.origin ?? top?.checkpoint.origin ?? (await findOrigin(log, opts.keyOf, opts.label, newest));
    const { cursor, base } = origin
      ? await provenBase(log, origin, opts, newest, top)
      : { cursor: emptyCursor(), base: NO_BASE };
    const waiting = await readTail(log, cursor, opts.label);
    const staleMs = (opts.staleAfterMs ?? DEFAULT_STALE_AFTER_MS) + (policy.minIntervalMs ?? 0);
    refuseStale(waiting, staleMs, (opts.now ?? (() => new Date()))(), opts.label);
    return new CheckpointWriter(log, signer, policy, opts, cursor, base, origin);
  }

  /**
   * Tells the writer which events it appended. It finds them in the log by id, not by the count
   * a store reports: a store's count may rest on hints an attacker edited.
   */
  appended(rows: readonly AuditRow[]): void {
    for (const row of rows) this.pending.add(row.id);
  }

  /** The position of the last event this writer appended, once sign() has found it. */
  get lastOwn(): number | undefined {
    return this.own.ranges.at(-1)?.[1];
  }

  /**
   * Signs checkpoints up to the last event this writer appended: at each multiple of `every` and
   * at the end, each naming the writer's own events since its previous one. With minIntervalMs
   * the end waits while the newest checkpoint is younger, and then answers for the whole window
   * since the proven base (the interval's trade-off: see the threat model).
   */
  async sign(): Promise<CheckpointRun> {
    this.origin ??= await findOrigin(this.log, this.opts.keyOf, this.opts.label);
    const run: CheckpointRun = { origin: this.origin, sizes: [], root: null, signatures: 0, notes: [], uncovered: 0 };
    if (this.pending.size === 0) return run;
    const now = (this.opts.now ?? (() => new Date()))();
    const interval = this.policy.minIntervalMs;
    const waits = interval !== undefined && recent(this.base.signedAt, interval, now);
    const signed: { state: TreeState; note: string }[] = [];
    let rangesSince = 0;
    const signHere = async (size: number) => {
      const vouched = this.vouchable(size);
      if (vouched.length === 0) return;
      signed.push({ state: stateOf(this.cursor), note: await this.signAt(vouched) });
      this.vouchedUpTo = size;
      rangesSince = 0;
      run.sizes.push(size);
      run.root = this.cursor.range.root().toString('hex');
      run.signatures++;
    };
    await advance(this.log, this.cursor, this.opts.label, {
      until: () => this.pending.size === 0,
      onEvent: async (row, size) => {
        const mine = this.pending.delete(row.id);
        if (mine) {
          if (this.lastOwn !== size - 1 || size - 1 === this.vouchedUpTo) rangesSince++;
          this.own.add(size, size);
        }
        const atEvery = this.policy.every !== undefined && size % this.policy.every === 0;
        const atEnd = this.pending.size === 0 && !waits;
        if (atEvery || atEnd || rangesSince >= MAX_RANGES_PER_CHECKPOINT) await signHere(size);
      },
    });
    if (this.pending.size > 0)
      throw diverged(
        `${this.pending.size} event(s) this writer appended are not in the log after its own proven state`,
        this.opts.label,
      );
    // Written after the read: a database store reads and writes on one connection.
    for (const { state, note } of signed) await this.log.appendCheckpoint(state, note);
    run.notes = signed.map((s) => s.note);
    run.uncovered = Math.max(0, (this.lastOwn ?? 0) - (run.sizes.at(-1) ?? this.vouchedUpTo));
    return run;
  }

  /** What a checkpoint at `size` answers for: own events since the last one (interval mode: the window). */
  private vouchable(size: number): EventRange[] {
    if (this.policy.minIntervalMs !== undefined) return size > this.vouchedUpTo ? [[this.vouchedUpTo + 1, size]] : [];
    return this.own.within(this.vouchedUpTo + 1, size);
  }

  private signAt(vouched: EventRange[]): Promise<string> {
    const cp: Checkpoint = {
      origin: this.origin!,
      size: cursorSize(this.cursor),
      root: this.cursor.range.root(),
      extensions: formatVouching({ vouched, adopted: [] }),
    };
    return signCheckpoint(cp, this.signer);
  }
}

const NO_BASE = { size: 0, signedAt: undefined };

const recent = (signedAt: Date | undefined, intervalMs: number, now: Date) =>
  signedAt !== undefined && now.getTime() - signedAt.getTime() < intervalMs;

/** The newest signed state the writer can reach, proven against the log. */
async function provenBase(
  log: CheckpointLog,
  origin: string,
  opts: WriterOptions,
  newestRecords: readonly CheckpointRecord[],
  top: VerifiedCheckpoint | undefined,
): Promise<{ cursor: TreeCursor; base: { size: number; signedAt: Date | undefined } }> {
  let records = newestRecords;
  let newest = top?.checkpoint.origin === origin ? top : newestValid(records, opts.keyOf, origin);
  if (!newest && records.length > 0) {
    records = await log.checkpointRecords();
    newest = newestValid(records, opts.keyOf, origin);
    if (!newest) {
      throw diverged(
        `${records.length} checkpoint record(s) are kept for this log and none opens as a checkpoint of ` +
          `${origin} signed by a trusted key`,
        opts.label,
      );
    }
  }
  let cursor = newest
    ? await cursorAtCheckpoint(log, newest.checkpoint, newest.record.state, opts.label)
    : emptyCursor();
  const witnessed = newestWitnessed(opts.witnessed ?? [], opts.keyOf, origin);
  if (witnessed) {
    const hint = records.find((r) => r.note === witnessed.note)?.state;
    const atWitness = await cursorAtCheckpoint(log, witnessed.checkpoint, hint, opts.label);
    if (cursorSize(atWitness) > cursorSize(cursor)) cursor = atWitness;
  }
  return { cursor, base: { size: cursorSize(cursor), signedAt: newest?.record.state?.signedAt } };
}

/** The notes that open as checkpoints of this origin with a trusted key. */
function openNotes(notes: readonly string[], keyOf: KeyOf, origin: string): Checkpoint[] {
  return notes.flatMap((note) => {
    const opened = openCheckpoint(note, keyOf);
    return opened.ok && opened.checkpoint.origin === origin ? [opened.checkpoint] : [];
  });
}

function newestWitnessed(
  notes: readonly string[],
  keyOf: KeyOf,
  origin: string,
): { note: string; checkpoint: Checkpoint } | undefined {
  let newest: { note: string; checkpoint: Checkpoint } | undefined;
  for (const note of notes) {
    const opened = openCheckpoint(note, keyOf);
    if (!opened.ok || opened.checkpoint.origin !== origin) continue;
    if (!newest || opened.checkpoint.size > newest.checkpoint.size) newest = { note, checkpoint: opened.checkpoint };
  }
  return newest;
}

interface Waiting {
  ranges: RangeSet;
  oldest: { size: number; createdAt: string } | undefined;
}

/** Reads the events after the cursor (moving it to the log's end) and notes the unsigned ones. */
async function readTail(log: CheckpointLog, cursor: TreeCursor, label: string): Promise<Waiting> {
  const waiting: Waiting = { ranges: new RangeSet(), oldest: undefined };
  await advance(log, cursor, label, {
    onEvent: (row, size) => {
      if (!isUnsigned(row)) return;
      waiting.ranges.add(size, size);
      if (!waiting.oldest || olderThan(row.created_at, waiting.oldest.createdAt))
        waiting.oldest = { size, createdAt: row.created_at };
    },
  });
  return waiting;
}

const isUnsigned = (row: AuditRow) => row.signature === null && row.signer_kid === null;

// An unreadable time counts as oldest: it cannot show that its writer is alive.
function olderThan(a: string, b: string): boolean {
  const ta = Date.parse(a);
  const tb = Date.parse(b);
  return Number.isNaN(ta) || (!Number.isNaN(tb) && ta < tb);
}

function refuseStale(waiting: Waiting, staleMs: number, now: Date, label: string): void {
  const oldest = waiting.oldest;
  if (!oldest) return;
  const at = Date.parse(oldest.createdAt);
  if (!Number.isNaN(at) && now.getTime() - at <= staleMs) return;
  throw unvouchedError(
    `unsigned events ${describeRanges(waiting.ranges.ranges)} wait for a checkpoint since ` +
      `${oldest.createdAt.slice(0, 40)} (longer than ${Math.round(staleMs / 1000)} s): no live writer is ` +
      'covering them (a killed writer, events written around agentkeys, or forged ones)',
    label,
  );
}

function unvouchedError(message: string, label: string): VerificationError {
  return new VerificationError({
    code: 'LOG_UNVOUCHED_EVENTS',
    message: `${label}: ${message}; nothing was written`,
    hint:
      `inspect them with agentkeys verify-audit --log ${label}; if they are yours, ` +
      `put them on the record with: agentkeys audit checkpoint --log ${label} --adopt`,
  });
}

export interface AdoptionRun extends CheckpointRun {
  adopted: EventRange[];
}

/**
 * `audit checkpoint --adopt`: recomputes the whole tree from the first event, checks every signed
 * checkpoint of this origin against it, and signs one checkpoint at the log's end that adopts,
 * by name, every unsigned event no checkpoint answers for. Refuses a log that contradicts a
 * signed checkpoint. Without `by`, only reports what would need adopting (LOG_UNVOUCHED_EVENTS).
 */
export async function adoptUncovered(
  log: CheckpointLog,
  signer: Signer,
  requestedOrigin: string | undefined,
  opts: WriterOptions & { by: string | undefined },
): Promise<AdoptionRun> {
  const origin = requestedOrigin ?? (await findOrigin(log, opts.keyOf, opts.label));
  const run: AdoptionRun = { origin, sizes: [], root: null, signatures: 0, notes: [], uncovered: 0, adopted: [] };
  if (origin === undefined) return run; // an empty log: nothing to adopt
  const { valid } = openRecords(await log.checkpointRecords(), opts.keyOf, origin);
  const witnessed = openNotes(opts.witnessed ?? [], opts.keyOf, origin);
  const bySize = new Map<number, Checkpoint[]>();
  for (const cp of [...valid.map((v) => v.checkpoint), ...witnessed])
    bySize.set(cp.size, [...(bySize.get(cp.size) ?? []), cp]);
  const unsigned = new RangeSet();
  const cursor = emptyCursor();
  await advance(log, cursor, opts.label, {
    onEvent: (row, size, c) => {
      if (isUnsigned(row)) unsigned.add(size, size);
      for (const cp of bySize.get(size) ?? []) {
        if (!c.range.root().equals(cp.root))
          throw diverged(`the events do not give the root the checkpoint at ${size} signs`, opts.label);
      }
    },
  });
  const end = cursorSize(cursor);
  const largest = Math.max(0, ...bySize.keys());
  if (largest > end)
    throw diverged(`the log holds ${end} events, but a signed checkpoint covers ${largest}`, opts.label);
  const answered = new RangeSet();
  for (const v of valid) {
    const vouching = parseVouching(v.checkpoint.extensions, v.checkpoint.size);
    if (typeof vouching === 'string') continue;
    answered.addAll(vouching.vouched);
    answered.addAll(vouching.adopted);
  }
  const adopted = coarsen(subtract(unsigned.within(1, end), answered), MAX_RANGES_PER_CHECKPOINT);
  if (adopted.length === 0) return run;
  if (opts.by === undefined)
    throw unvouchedError(`unsigned events ${describeRanges(adopted)} are answered for by no checkpoint`, opts.label);
  const cp: Checkpoint = {
    origin,
    size: end,
    root: cursor.range.root(),
    extensions: formatVouching({ vouched: [], adopted, adoptedBy: opts.by }),
  };
  const note = await signCheckpoint(cp, signer);
  await log.appendCheckpoint(stateOf(cursor), note);
  return { ...run, sizes: [end], root: cp.root.toString('hex'), signatures: 1, notes: [note], adopted };
}

/** At most `max` ranges, by joining neighbours pairwise (an adoption may then name signed events too). */
function coarsen(ranges: EventRange[], max: number): EventRange[] {
  let out = ranges.map(([a, b]) => [a, b] as [number, number]);
  while (out.length > max) {
    const next: [number, number][] = [];
    for (let i = 0; i < out.length; i += 2) next.push([out[i]![0], (out[i + 1] ?? out[i]!)[1]]);
    out = next;
  }
  return out;
}
