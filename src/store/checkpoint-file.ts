// A file log's checkpoints: `<log>.checkpoints.jsonl`, one record per signed checkpoint, appended
// under its own lock, so a checkpoint is signed outside the chain's lock. Each record carries the
// note and, for the next writer only, the tree state it covers (size, byte position, compact range).
import { createReadStream, promises as fsp } from 'node:fs';
import { duplicateMember } from '../audit/canonical.js';
import type { CheckpointRecord, TreeState } from '../audit/chain.js';
import { parseRowLine, RowFormatError, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { readLineEndingAt, withFileIfExists } from './file-tail.js';
import { errnoCode, messageOf } from '../sys/operator-file.js';

export const checkpointPathFor = (log: string) => `${log}.checkpoints.jsonl`;

interface RecordLine extends TreeState {
  note: string;
}

const LOCK = { realpath: false, stale: 15_000, retries: { retries: 200, factor: 1.2, minTimeout: 5, maxTimeout: 200 } };

async function readLines(file: string): Promise<string[]> {
  try {
    return (await fsp.readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return [];
    throw new AgentkeysError({
      code: 'LOG_UNREADABLE',
      message: `cannot read ${file}: ${messageOf(err)}`,
      cause: err,
    });
  }
}

const RECORD_KEYS = new Set(['note,position,range,size', 'note,position,prior,range,size']);

// Only the writer's hints are parsed here, and proven before use; verification reads the note alone.
function parseRecord(line: string): RecordLine | undefined {
  try {
    const r = JSON.parse(line) as Partial<RecordLine>;
    if (typeof r !== 'object' || r === null || !RECORD_KEYS.has(Object.keys(r).sort().join(','))) return undefined;
    if (duplicateMember(line) !== undefined) return undefined;
    if (typeof r.note !== 'string') return undefined;
    if (!Number.isSafeInteger(r.size) || !Number.isSafeInteger(r.position)) return undefined;
    return r as RecordLine;
  } catch {
    return undefined;
  }
}

/** Every note, in file order; a line that is no record is passed on as it is, to fail as a note. */
export async function readCheckpointNotes(log: string): Promise<string[]> {
  return (await readLines(checkpointPathFor(log))).map((line) => parseRecord(line)?.note ?? line);
}

/**
 * Records with their hints; the file's modification time is when its newest record was appended.
 * With `newest`, only the file's tail is read (records are appended, so the newest are last).
 */
export async function readCheckpointRecords(log: string, newest?: number): Promise<CheckpointRecord[]> {
  const lines = newest === undefined ? await readLines(checkpointPathFor(log)) : await readTailLines(log, newest);
  if (lines.length === 0) return [];
  const signedAt = (await fsp.stat(checkpointPathFor(log))).mtime;
  return lines.map((line) => {
    const r = parseRecord(line);
    if (!r) return { note: line, state: undefined };
    const { note, ...state } = r;
    return { note, state: { ...state, signedAt } };
  });
}

// A record is a note and a hint of a few hundred bytes; 64 KiB holds the newest several dozen.
const TAIL_BYTES = 64 * 1024;

async function readTailLines(log: string, newest: number): Promise<string[]> {
  const lines = await withFileIfExists(checkpointPathFor(log), async (handle) => {
    const { size } = await handle.stat();
    const length = Math.min(size, TAIL_BYTES);
    const buf = Buffer.alloc(length);
    await handle.read(buf, 0, length, size - length);
    const all = buf
      .toString('utf8')
      .split('\n')
      .filter((l) => l !== '');
    if (length < size) all.shift(); // the first line may be cut
    return all.slice(-newest);
  });
  return lines ?? [];
}

/** The largest hinted tree state (unverified): counting events from it spares a scan. */
export async function latestTreeState(log: string): Promise<TreeState | undefined> {
  let best: TreeState | undefined;
  for (const { state } of await readCheckpointRecords(log))
    if (state && (!best || state.size > best.size)) best = state;
  return best;
}

export async function appendCheckpointRecord(log: string, state: TreeState, note: string): Promise<void> {
  const file = checkpointPathFor(log);
  const handle = await fsp.open(file, 'a', 0o644);
  await handle.close();
  // A lost lock (see FileAuditLog) is noted, never thrown from proper-lockfile's timer.
  let lost: Error | undefined;
  const { default: lockfile } = await import('proper-lockfile');
  const release = await lockfile.lock(file, { ...LOCK, onCompromised: (err: Error) => void (lost = err) });
  try {
    if (lost)
      throw new AgentkeysError({
        code: 'LOG_LOCK_LOST',
        message: `the lock on ${file} was lost (${lost.message}); the checkpoint record was not written`,
        hint: 'run the command again',
      });
    const out = await fsp.open(file, 'a');
    try {
      const { size, position, range, prior } = state;
      await out.write(`${JSON.stringify({ size, position, range, ...(prior ? { prior } : {}), note })}\n`);
      await out.sync();
    } finally {
      await out.close();
    }
  } finally {
    await release().catch((err: unknown) => {
      if (!lost) throw err;
    });
  }
}

/**
 * The rows of a log from a byte position on, each with the position after its line. A last line
 * without its newline is another writer's append in progress: it is left for the next reader.
 */
export async function* rowsFromPosition(
  log: string,
  start: number,
): AsyncGenerator<{ row: AuditRow; position: number }> {
  let position = start;
  let carry = '';
  const stat = await fsp.stat(log).catch(() => undefined);
  if (!stat || stat.size <= start) return; // no log yet, or nothing after the position
  for await (const piece of createReadStream(log, { start, highWaterMark: 1 << 20, encoding: 'utf8' })) {
    const lines = (carry + (piece as string)).split('\n');
    carry = lines.pop()!;
    for (const line of lines) {
      position += Buffer.byteLength(line, 'utf8') + 1;
      yield { row: parseForCheckpoint(log, line), position };
    }
  }
}

/** The row whose line ends just before byte `position` (its newline at position - 1). */
export async function rowEndingAt(log: string, position: number): Promise<AuditRow | undefined> {
  if (position <= 0) return undefined;
  const line = await readLineEndingAt(log, position - 1);
  if (line === undefined) return undefined;
  try {
    return parseRowLine(line);
  } catch (err) {
    if (err instanceof RowFormatError) return undefined;
    throw err;
  }
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
