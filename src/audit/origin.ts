// A log's identity in its checkpoints (the C2SP origin line). Two logs must never share one, or
// one log and its checkpoints could stand in for the other's. A new log's origin comes from its
// genesis event's random id, which every writer reads the same way: agentkeys.local/a.jsonl-3f9c2a1b.
// A log that has checkpoints keeps the origin they name (older logs: agentkeys.local/a.jsonl).
// An auditor pins it with --origin; verify-audit shows the one it found.
import type { CheckpointLog, CheckpointRecord } from './chain.js';
import { newestValid, type KeyOf } from './tree-cursor.js';

/** Records read from a store's newest end first; all of them only when none of those opens. */
export const NEWEST_RECORDS = 32;

/** The name part of an origin: the log's file (or database) name, as a schema-less name. */
export function logName(log: string): string {
  const base =
    log
      .split(/[\\/?#]/)
      .filter((p) => p !== '')
      .pop() ?? 'audit';
  return base.replace(/[^A-Za-z0-9._-]/g, '-') || 'audit';
}

export function originFromGenesis(log: string, genesisId: string): string {
  const id =
    genesisId
      .replace(/[^0-9A-Za-z]/g, '')
      .slice(0, 8)
      .toLowerCase() || 'log';
  return `agentkeys.local/${logName(log)}-${id}`;
}

/**
 * The origin a log already has: the one its largest trusted checkpoint names, else the one its
 * genesis event gives; undefined for an empty log.
 */
export async function findOrigin(
  log: CheckpointLog,
  keyOf: KeyOf,
  label: string,
  newestRecords?: readonly CheckpointRecord[],
): Promise<string | undefined> {
  const newest = newestRecords ?? (await log.checkpointRecords({ newest: NEWEST_RECORDS }));
  for (const records of [newest, ...(newest.length > 0 ? [await log.checkpointRecords()] : [])]) {
    const best = newestValid(records, keyOf, undefined);
    if (best) return best.checkpoint.origin;
  }
  for await (const { row } of log.rowsAfter(undefined)) return originFromGenesis(label, row.id);
  return undefined;
}
