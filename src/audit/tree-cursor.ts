// A writer's verified position in a checkpointed log. Everything a writer signs grows from a
// cursor, and a cursor only ever comes from a signed checkpoint plus the events read after it:
// the hints a store keeps beside its checkpoints (tree range, byte position) are used only once
// they are proven against the signed root, and replaced by a recomputation from the first event
// when they are not. An attacker who edits the hints, cuts or replaces the log, or deletes
// checkpoints gets a refusal (LOG_DIVERGED), never a signature over hashes of their choosing.
import { VerificationError } from '../errors.js';
import type { VerificationKey } from '../signing/verify.js';
import type { CheckpointLog, CheckpointRecord, TreeState } from './chain.js';
import { openCheckpoint, parseCheckpointText, parseNote, type Checkpoint } from './checkpoint.js';
import { CompactRange } from './merkle.js';
import { chainDigestHex, eventLeafBinary, type AuditRow } from './record.js';

export type KeyOf = (kid: string) => VerificationKey | undefined;

export interface TreeCursor {
  /** The tree over events 1..size. */
  range: CompactRange;
  /** The tree over events 1..size-1 (undefined at size 0): with the last event it proves the boundary. */
  prior: CompactRange | undefined;
  /** Where event size+1 starts (a byte offset in a file, a chain_seq in a database). */
  position: number;
  /** The chain digest of event `size`, which event size+1 must link to. */
  head: string | null;
}

export const cursorSize = (c: TreeCursor) => c.range.end;

export function emptyCursor(): TreeCursor {
  return { range: new CompactRange(), prior: undefined, position: 0, head: null };
}

/** The hint to store beside a checkpoint signed at this cursor. */
export function stateOf(c: TreeCursor): TreeState {
  return {
    size: c.range.end,
    position: c.position,
    range: c.range.toJSON(),
    ...(c.prior ? { prior: c.prior.toJSON() } : {}),
  };
}

/** A writer's refusal: the log does not extend the newest signed state (exit 3). */
export function diverged(message: string, log: string, next?: string): VerificationError {
  const see = `see the damage with: agentkeys verify-audit --log ${log}`;
  return new VerificationError({
    code: 'LOG_DIVERGED',
    message: `${log}: ${message}; nothing was written`,
    hint: next ? `${see}; ${next}` : see,
  });
}

export interface VerifiedCheckpoint {
  checkpoint: Checkpoint;
  record: CheckpointRecord;
}

/**
 * The signed checkpoints of this origin among the store's records, largest tree first. Records
 * whose note does not open with a trusted key are left out; `unusable` counts them.
 */
export function openRecords(
  records: readonly CheckpointRecord[],
  keyOf: KeyOf,
  origin: string,
): { valid: VerifiedCheckpoint[]; unusable: number } {
  const valid: VerifiedCheckpoint[] = [];
  let unusable = 0;
  for (const record of records) {
    const opened = openCheckpoint(record.note, keyOf);
    if (opened.ok && opened.checkpoint.origin === origin) valid.push({ checkpoint: opened.checkpoint, record });
    else unusable++;
  }
  valid.sort((a, b) => b.checkpoint.size - a.checkpoint.size);
  return { valid, unusable };
}

/**
 * The largest signed checkpoint of this origin (any origin when undefined) among the records:
 * notes are ordered by the size in their text (cheap) and their signatures checked from the
 * largest down, so a writer usually verifies one signature, however many records a store keeps.
 */
export function newestValid(
  records: readonly CheckpointRecord[],
  keyOf: KeyOf,
  origin: string | undefined,
): VerifiedCheckpoint | undefined {
  const sized = records.flatMap((record) => {
    try {
      return [{ record, size: parseCheckpointText(parseNote(record.note).text).size }];
    } catch {
      return [];
    }
  });
  sized.sort((a, b) => b.size - a.size);
  for (const { record } of sized) {
    const opened = openCheckpoint(record.note, keyOf);
    if (opened.ok && (origin === undefined || opened.checkpoint.origin === origin))
      return { checkpoint: opened.checkpoint, record };
  }
  return undefined;
}

/**
 * A cursor at a signed checkpoint: from its hint when the hint proves out (the range's root is the
 * signed root, and the prior range plus the event that ends at the hint's position gives it too),
 * otherwise by recomputing the tree from the first event. Refuses a log that does not hold it.
 */
export async function cursorAtCheckpoint(
  log: CheckpointLog,
  cp: Checkpoint,
  hint: TreeState | undefined,
  label: string,
): Promise<TreeCursor> {
  if (cp.size === 0) return emptyCursor();
  const fromHint = hint && hint.size === cp.size ? await provenHint(log, cp, hint) : undefined;
  if (fromHint) return fromHint;
  const cursor = emptyCursor();
  await advance(log, cursor, label, { until: cp.size });
  if (cursorSize(cursor) < cp.size)
    throw diverged(`the log holds ${cursorSize(cursor)} events, but a signed checkpoint covers ${cp.size}`, label);
  if (!cursor.range.root().equals(cp.root))
    throw diverged(`the first ${cp.size} events do not give the root the checkpoint at ${cp.size} signs`, label);
  return cursor;
}

async function provenHint(log: CheckpointLog, cp: Checkpoint, hint: TreeState): Promise<TreeCursor | undefined> {
  if (!hint.prior) return undefined;
  let prior: CompactRange;
  try {
    prior = CompactRange.fromJSON(hint.prior);
  } catch {
    return undefined;
  }
  if (prior.begin !== 0 || prior.end !== cp.size - 1) return undefined;
  const last = await log.rowEndingAt(hint.position);
  if (!last) return undefined;
  const head = chainDigestHex(last.payload, last.prev_hash);
  const range = prior.clone();
  range.appendLeafBinary(eventLeafBinary(last, head));
  if (!range.root().equals(cp.root)) return undefined;
  return { range, prior, position: hint.position, head };
}

export interface AdvanceOptions {
  /** Stop once the tree holds this many events, or once this says so (checked after each event). */
  until?: number | (() => boolean);
  /** Told of each event as it joins the tree (size = its 1-based position). */
  onEvent?: (row: AuditRow, size: number, cursor: TreeCursor) => void | Promise<void>;
}

/**
 * Reads the events after the cursor and adds them to its tree, each one required to link to the
 * one before: a log that breaks its chain after the newest checkpoint is refused, not signed over.
 */
export async function advance(
  log: CheckpointLog,
  cursor: TreeCursor,
  label: string,
  opts: AdvanceOptions = {},
): Promise<void> {
  const done = () =>
    typeof opts.until === 'function' ? opts.until() : opts.until !== undefined && cursorSize(cursor) >= opts.until;
  if (done()) return;
  for await (const { row, position } of log.rowsAfter(cursor)) {
    if (row.prev_hash !== cursor.head) {
      throw diverged(
        `event ${cursorSize(cursor) + 1} links to ${row.prev_hash ?? 'null'}, not to event ` +
          `${cursorSize(cursor)} (${cursor.head ?? 'the start'}): the chain breaks after what was checkpointed`,
        label,
      );
    }
    const head = chainDigestHex(row.payload, row.prev_hash);
    cursor.prior = cursor.range.clone();
    cursor.range.appendLeafBinary(eventLeafBinary(row, head));
    cursor.position = position;
    cursor.head = head;
    await opts.onEvent?.(row, cursorSize(cursor), cursor);
    if (done()) return;
  }
}
