// A file log's checkpoints: `<log>.checkpoints.jsonl`, one record per signed checkpoint, appended
// under its own lock, so a checkpoint is signed outside the chain's lock. Each record carries the
// note and, for the next writer only, the tree state it covers (size, byte position, compact range).
import { createReadStream, promises as fsp } from 'node:fs';
import lockfile from 'proper-lockfile';
import type { TreeState } from '../audit/chain.js';
import { parseRowLine, RowFormatError, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';

export const checkpointPathFor = (log: string) => `${log}.checkpoints.jsonl`;

interface CheckpointRecord extends TreeState {
  note: string;
}

const LOCK = { realpath: false, stale: 15_000, retries: { retries: 200, factor: 1.2, minTimeout: 5, maxTimeout: 200 } };

async function readLines(file: string): Promise<string[]> {
  try {
    return (await fsp.readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new AgentkeysError({
      code: 'LOG_UNREADABLE',
      message: `cannot read ${file}: ${(err as Error).message}`,
      cause: err,
    });
  }
}

// Only the writer's hints are parsed strictly here; verification reads the note alone and checks it.
function parseRecord(line: string): CheckpointRecord | undefined {
  try {
    const r = JSON.parse(line) as Partial<CheckpointRecord>;
    const keys = Object.keys(r).sort().join(',');
    if (keys !== 'note,position,range,size' || typeof r.note !== 'string') return undefined;
    if (!Number.isSafeInteger(r.size) || !Number.isSafeInteger(r.position)) return undefined;
    return r as CheckpointRecord;
  } catch {
    return undefined;
  }
}

/** Every note, in file order; a line that is no record is passed on as it is, to fail as a note. */
export async function readCheckpointNotes(log: string): Promise<string[]> {
  return (await readLines(checkpointPathFor(log))).map((line) => parseRecord(line)?.note ?? line);
}

export async function latestTreeState(log: string): Promise<TreeState | undefined> {
  let best: CheckpointRecord | undefined;
  for (const line of await readLines(checkpointPathFor(log))) {
    const r = parseRecord(line);
    if (r && (!best || r.size > best.size)) best = r;
  }
  if (!best) return undefined;
  // The file's modification time is when its newest record was appended.
  const signedAt = (await fsp.stat(checkpointPathFor(log))).mtime;
  return { size: best.size, position: best.position, range: best.range, signedAt };
}

export async function appendCheckpointRecord(log: string, state: TreeState, note: string): Promise<void> {
  const file = checkpointPathFor(log);
  const handle = await fsp.open(file, 'a', 0o644);
  await handle.close();
  const release = await lockfile.lock(file, LOCK);
  try {
    const out = await fsp.open(file, 'a');
    try {
      await out.write(`${JSON.stringify({ size: state.size, position: state.position, range: state.range, note })}\n`);
      await out.sync();
    } finally {
      await out.close();
    }
  } finally {
    await release();
  }
}

/** The rows of a log from a byte position on, each with the position after its line. */
export async function* rowsFromPosition(
  log: string,
  start: number,
): AsyncGenerator<{ row: AuditRow; position: number }> {
  let position = start;
  let carry = '';
  for await (const piece of createReadStream(log, { start, highWaterMark: 1 << 20, encoding: 'utf8' })) {
    const lines = (carry + (piece as string)).split('\n');
    carry = lines.pop()!;
    for (const line of lines) {
      position += Buffer.byteLength(line, 'utf8') + 1;
      yield { row: parseForCheckpoint(log, line), position };
    }
  }
  if (carry !== '')
    yield { row: parseForCheckpoint(log, carry), position: position + Buffer.byteLength(carry, 'utf8') };
}

function parseForCheckpoint(log: string, line: string): AuditRow {
  try {
    return parseRowLine(line);
  } catch (err) {
    if (!(err instanceof RowFormatError)) throw err;
    throw new UsageError({
      code: 'SOURCE_ROW_MALFORMED',
      message: `${log}: an event after the newest checkpoint is malformed (${err.message}); no checkpoint signed`,
      hint: `see every problem with: agentkeys verify-audit --log ${log}`,
    });
  }
}
