import { once } from 'node:events';
import { promises as fsp } from 'node:fs';
import { anchorPathFor } from '../audit/anchor.js';
import type {
  AnchorWriter,
  ChainHead,
  ChainSourceInfo,
  CheckpointLog,
  CheckpointRecord,
  RowReadOptions,
  TreeState,
} from '../audit/chain.js';
import type { LineChunk, SpareBuffers } from '../audit/line-chunks.js';
import {
  assertQueryRange,
  insertNewest,
  matchesQuery,
  type AuditQuery,
  type AuditQueryResult,
} from '../audit/query.js';
import { digestRow, parseRowLine, RowFormatError, serializeRow, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';
import type { AuditSigner } from '../signing/signer.js';
import { assertParentDirExists, assertWritableFile, openAtomicFile, writeFileAtomic } from '../sys/fs.js';
import {
  anchorDue,
  assertExtendsAnchor,
  currentAnchor,
  eventsAfterHead,
  readChosenAnchor,
  signAnchorFor,
} from './anchor-file.js';
import {
  appendCheckpointRecord,
  latestTreeState,
  readCheckpointNotes,
  readCheckpointRecords,
  rowEndingAt,
  rowsFromPosition,
} from './checkpoint-file.js';
import { readFileRows, readLineChunks } from './file-chunks.js';
import { countLines, readLastLine } from './file-tail.js';
import type { AuditStore, RowSink } from './audit-store.js';
import { errnoCode, messageOf } from '../sys/operator-file.js';

const LOCK_OPTIONS = {
  realpath: false,
  stale: 15_000,
  retries: { retries: 400, factor: 1.2, minTimeout: 5, maxTimeout: 250, randomize: true },
} as const;

/**
 * The embedded default store: one JSON Lines file, appended under an exclusive lock
 * (`<log>.lock`, a directory, so it works across processes and on network filesystems),
 * with a signed anchor `<log>.anchor.json` beside it.
 */
export class FileAuditLog implements AuditStore, CheckpointLog {
  readonly kind = 'file';
  readonly anchorPath: string;

  private readonly onWait: (() => void) | undefined;
  private readonly adopt: boolean;
  private readonly followSymlinks: boolean;
  private readonly lockStaleMs: number;

  /** onWait: told once when another writer holds the lock; adopt: take a log without an anchor. */
  constructor(
    readonly file: string,
    readonly identity: string,
    opts: { onWait?: () => void; adopt?: boolean; followSymlinks?: boolean; lockStaleMs?: number } = {},
  ) {
    this.anchorPath = anchorPathFor(file);
    this.onWait = opts.onWait;
    this.adopt = opts.adopt === true;
    this.followSymlinks = opts.followSymlinks === true;
    this.lockStaleMs = opts.lockStaleMs ?? LOCK_OPTIONS.stale;
  }

  get label(): string {
    return this.file;
  }

  async close(): Promise<void> {}

  async append(build: (head: ChainHead) => Promise<AuditRow[]>, anchor?: AnchorWriter): Promise<ChainHead> {
    await assertParentDirExists(this.file, 'log');
    await assertWritableFile(this.file, 'log', this.followSymlinks);
    const release = await this.lock();
    try {
      const read = await this.readHead();
      const head = anchor ? await assertExtendsAnchor(this.file, read, anchor, this.adopt, this) : read;
      const rows = await build(head);
      if (rows.length === 0) return head;
      this.assertLockHeld('the events were written');
      await this.writeRows(rows);
      const last = rows[rows.length - 1]!;
      const next = {
        prevHash: digestRow(last.payload, last.prev_hash).digest.toString('hex'),
        events: head.events + rows.length,
      };
      if (!anchor) return next;
      const prior = await currentAnchor(this.file);
      if (anchorDue(prior, next.events, anchor.policy ?? {}, new Date()))
        await signAnchorFor(this.file, next, anchor.signer);
      return next;
    } finally {
      await release().catch((err: unknown) => {
        if (!this.lost) throw err; // a lost lock has nothing left to release
      });
    }
  }

  /** The digest of the last row and the event count, read from the tail and the anchor. */
  async readHead(): Promise<ChainHead> {
    const prevHash = await this.headDigest();
    return prevHash === null ? { prevHash, events: 0 } : { prevHash, events: await this.countEvents(prevHash) };
  }

  async headDigest(): Promise<string | null> {
    const tail = await readLastLine(this.file);
    return tail === undefined ? null : digestOfTail(this.file, tail);
  }

  async describe(): Promise<ChainSourceInfo> {
    return { sizeBytes: await logSize(this.file), rowCount: undefined, forkedIds: new Set() };
  }

  chunks(spare?: SpareBuffers): AsyncIterable<LineChunk> {
    return readLineChunks(this.file, 1 << 20, spare);
  }

  rows(opts: RowReadOptions = {}): AsyncIterable<AuditRow> {
    return readFileRows(this.file, opts);
  }

  readAnchor(choice?: string | false) {
    return readChosenAnchor(choice, this.anchorPath);
  }

  readCheckpoints(): Promise<string[]> {
    return readCheckpointNotes(this.file);
  }

  checkpointRecords(opts: { newest?: number } = {}): Promise<CheckpointRecord[]> {
    return readCheckpointRecords(this.file, opts.newest);
  }

  rowEndingAt(position: number): Promise<AuditRow | undefined> {
    return rowEndingAt(this.file, position);
  }

  rowsAfter(from: { position: number } | undefined): AsyncIterable<{ row: AuditRow; position: number }> {
    return rowsFromPosition(this.file, from?.position ?? 0);
  }

  appendCheckpoint(state: TreeState, note: string): Promise<void> {
    return appendCheckpointRecord(this.file, state, note);
  }

  async query(q: AuditQuery): Promise<AuditQueryResult> {
    assertQueryRange(q);
    let skippedMalformed = 0;
    const newest: AuditRow[] = [];
    for await (const row of this.rows({ skipMalformed: true, onMalformed: () => skippedMalformed++ })) {
      if (matchesQuery(row, q)) insertNewest(newest, row, q.limit);
    }
    return { events: newest, skippedMalformed };
  }

  async openSink(): Promise<RowSink> {
    await assertParentDirExists(this.file, '--out');
    await assertWritableFile(this.file, '--out');
    const existing = await fsp.stat(this.file).catch(() => undefined);
    if (existing && existing.size > 0)
      throw new UsageError({
        code: 'EXPORT_DEST_NOT_EMPTY',
        message: `${this.file} already exists and is not empty`,
        hint: 'export into a new file; agentkeys never merges two chains',
      });
    const out = await openAtomicFile(this.file);
    return {
      write: async (rows) => {
        if (!out.stream.write(rows.map((r) => `${serializeRow(r)}\n`).join(''))) await once(out.stream, 'drain');
      },
      commit: () => out.commit(),
      abort: () => out.abort(),
    };
  }

  async signAnchor(head: ChainHead, signer: AuditSigner): Promise<boolean> {
    await signAnchorFor(this.file, head, signer);
    return true;
  }

  async copyAnchor(text: string): Promise<boolean> {
    await writeFileAtomic(this.anchorPath, text);
    return true;
  }

  /**
   * proper-lockfile refreshes the lock on a timer; when a refresh fails (the event loop was busy
   * past the stale threshold and another writer took the lock) its default is an uncaught throw.
   * Here the loss is noted, and the writer checks it before it writes (LOG_LOCK_LOST).
   */
  private lost: Error | undefined;

  private assertLockHeld(what: string): void {
    if (!this.lost) return;
    throw new AgentkeysError({
      code: 'LOG_LOCK_LOST',
      message: `the lock on ${this.file} was lost before ${what} (${this.lost.message}); nothing was written`,
      hint: 'another writer may have taken it: run the command again (smaller batches hold the lock less long)',
      cause: this.lost,
    });
  }

  private async lock(): Promise<() => Promise<void>> {
    this.lost = undefined;
    const options = {
      ...LOCK_OPTIONS,
      stale: this.lockStaleMs,
      onCompromised: (err: Error) => void (this.lost = err),
    };
    const { default: lockfile } = await import('proper-lockfile'); // only writers pay for loading it
    try {
      try {
        return await lockfile.lock(this.file, { ...options, retries: 0 });
      } catch (err) {
        if (errnoCode(err) !== 'ELOCKED') throw err;
        this.onWait?.();
      }
      return await lockfile.lock(this.file, options);
    } catch (err) {
      throw new AgentkeysError({
        code: 'LOG_LOCKED',
        message: `could not lock ${this.file}: ${messageOf(err)}`,
        hint: `another agentkeys process is writing; if none is, remove ${this.file}.lock`,
        cause: err,
      });
    }
  }

  // The anchor already knows the count when it matches the tail; in checkpoint mode the newest
  // checkpoint's state counts up to its position. Only without either does counting cost a scan.
  private async countEvents(headDigest: string): Promise<number> {
    const anchor = await currentAnchor(this.file);
    if (anchor?.head === headDigest) return anchor.events;
    const after = anchor && (await eventsAfterHead(this.file, anchor.head));
    if (anchor && after !== undefined) return anchor.events + after;
    const state = await latestTreeState(this.file);
    if (state && state.position <= (await logSize(this.file)))
      return state.size + (await countLines(this.file, state.position));
    return countLines(this.file);
  }

  private async writeRows(rows: AuditRow[]): Promise<void> {
    const text = rows.map((r) => `${serializeRow(r)}\n`).join('');
    const handle = await fsp.open(this.file, 'a', 0o644);
    const { size } = await handle.stat();
    try {
      await handle.write(text);
      await handle.sync();
    } catch (err) {
      // Never leave half a line: cut back to where we started.
      await handle.truncate(size).catch(() => undefined);
      throw new AgentkeysError({
        code: 'LOG_WRITE_FAILED',
        message: `could not append to ${this.file}: ${messageOf(err)}`,
        cause: err,
      });
    } finally {
      await handle.close();
    }
  }
}

function digestOfTail(file: string, tail: string): string {
  let row: AuditRow;
  try {
    row = parseRowLine(tail);
  } catch (err) {
    if (!(err instanceof RowFormatError)) throw err;
    throw new UsageError({
      code: 'LOG_TAIL_CORRUPT',
      message: `the last line of ${file} is not an audit event (${err.message}); refusing to extend it`,
      hint: `inspect it with: agentkeys verify-audit --log ${file}`,
    });
  }
  return digestRow(row.payload, row.prev_hash).digest.toString('hex');
}

async function logSize(log: string): Promise<number> {
  let stat;
  try {
    stat = await fsp.stat(log);
  } catch (err) {
    const code = errnoCode(err);
    throw new AgentkeysError({
      code: code === 'ENOENT' ? 'LOG_NOT_FOUND' : 'LOG_UNREADABLE',
      message: `cannot read log ${log}: ${code ?? messageOf(err)}`,
      hint: 'check the --log path',
      cause: err,
    });
  }
  if (!stat.isFile()) {
    throw new UsageError({
      code: 'LOG_NOT_A_FILE',
      message: `${log} is ${stat.isDirectory() ? 'a directory' : 'not a regular file'}, not a JSON Lines log`,
      hint: 'pass the log file itself, e.g. --log audit.jsonl, or a postgres:// URL',
    });
  }
  return stat.size;
}
