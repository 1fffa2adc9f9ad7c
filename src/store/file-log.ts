import { promises as fsp } from 'node:fs';
import lockfile from 'proper-lockfile';
import { AgentkeysError, UsageError } from '../errors.js';
import { assertParentDirExists } from '../sys/fs.js';
import { anchorPathFor, anchorSignedBytes, ANCHOR_FORMAT, parseAnchor, readAnchorIfExists, writeAnchor } from '../audit/anchor.js';
import { digestRow, parseRowLine, RowFormatError, serializeRow, type AuditRow } from '../audit/record.js';
import { signAndCheck, type AuditSigner } from '../signing/signer.js';

export interface ChainHead {
  /** Hex digest of the last event, null for an empty chain. */
  prevHash: string | null;
  events: number;
}

/** Anything that appends to a chain under a writer lock: the JSON Lines file here, Postgres later. */
export interface AuditAppender {
  /** Calls build with the current head while holding the lock; writes all rows it returns or none. */
  append(build: (head: ChainHead) => Promise<AuditRow[]>, anchorSigner: AuditSigner): Promise<ChainHead>;
  /** Releases connections held between appends. */
  close?(): Promise<void>;
}

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
export class FileAuditLog implements AuditAppender {
  /** onWait: told once when another writer holds the lock and this one starts waiting. */
  constructor(readonly file: string, private readonly onWait?: () => void) {}

  async append(build: (head: ChainHead) => Promise<AuditRow[]>, anchorSigner: AuditSigner): Promise<ChainHead> {
    await assertParentDirExists(this.file, 'log');
    const release = await this.lock();
    try {
      const head = await this.readHead();
      const rows = await build(head);
      if (rows.length === 0) return head;
      await this.writeRows(rows);
      const last = rows[rows.length - 1]!;
      const next = { prevHash: digestRow(last.payload, last.prev_hash).digest.toString('hex'), events: head.events + rows.length };
      await this.writeAnchor(next, anchorSigner);
      return next;
    } finally {
      await release();
    }
  }

  private async lock(): Promise<() => Promise<void>> {
    try {
      try {
        return await lockfile.lock(this.file, { ...LOCK_OPTIONS, retries: 0 });
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ELOCKED') throw err;
        this.onWait?.();
      }
      return await lockfile.lock(this.file, LOCK_OPTIONS);
    } catch (err) {
      throw new AgentkeysError({
        code: 'LOG_LOCKED',
        message: `could not lock ${this.file}: ${(err as Error).message}`,
        hint: `another agentkeys process is writing; if none is, remove ${this.file}.lock`,
        cause: err,
      });
    }
  }

  /** The digest of the last row and the event count, read from the tail and the anchor. */
  async readHead(): Promise<ChainHead> {
    const tail = await readLastLine(this.file);
    if (tail === undefined) return { prevHash: null, events: 0 };
    let row: AuditRow;
    try {
      row = parseRowLine(tail);
    } catch (err) {
      if (!(err instanceof RowFormatError)) throw err;
      throw new UsageError({
        code: 'LOG_TAIL_CORRUPT',
        message: `the last line of ${this.file} is not an audit event (${err.message}); refusing to extend it`,
        hint: `inspect it with: agentkeys verify-audit --log ${this.file}`,
      });
    }
    const prevHash = digestRow(row.payload, row.prev_hash).digest.toString('hex');
    return { prevHash, events: await this.countEvents(prevHash) };
  }

  // The anchor already knows the count when it matches the tail; only a stale or missing anchor costs a scan.
  private async countEvents(headDigest: string): Promise<number> {
    const found = await readAnchorIfExists(anchorPathFor(this.file));
    const anchor = found && parseAnchor(found.text);
    if (typeof anchor === 'object' && anchor.head === headDigest) return anchor.events;
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
      throw new AgentkeysError({ code: 'LOG_WRITE_FAILED', message: `could not append to ${this.file}: ${(err as Error).message}`, cause: err });
    } finally {
      await handle.close();
    }
  }

  private async writeAnchor(head: ChainHead, signer: AuditSigner): Promise<void> {
    await signAnchorFor(this.file, head, signer);
  }
}

/** Signs `<log>.anchor.json` for a chain of this length and head (self-checked before it is written). */
export async function signAnchorFor(log: string, head: ChainHead, signer: AuditSigner): Promise<void> {
  const unsigned = { format: ANCHOR_FORMAT, events: head.events, head: head.prevHash!, signer_kid: signer.kid, updated_at: new Date().toISOString() } as const;
  const signature = await signAndCheck(signer, anchorSignedBytes(unsigned));
  await writeAnchor(anchorPathFor(log), { ...unsigned, signature: signature.toString('base64') });
}

/** The last line without its newline; undefined for a missing or empty file. A torn tail is an error. */
export async function readLastLine(file: string): Promise<string | undefined> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  try {
    const { size } = await handle.stat();
    if (size === 0) return undefined;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] !== 10) {
      throw new UsageError({ code: 'LOG_TAIL_TORN', message: `${file} does not end with a newline: its last line is incomplete`, hint: `inspect it with: agentkeys verify-audit --log ${file}` });
    }
    return await readLineEndingAt(handle, size - 1);
  } finally {
    await handle.close();
  }
}

async function readLineEndingAt(handle: fsp.FileHandle, end: number): Promise<string> {
  const parts: Buffer[] = [];
  let pos = end;
  while (pos > 0) {
    const len = Math.min(64 * 1024, pos);
    const buf = Buffer.alloc(len);
    await handle.read(buf, 0, len, pos - len);
    const nl = buf.lastIndexOf(10);
    if (nl !== -1) {
      parts.unshift(buf.subarray(nl + 1));
      break;
    }
    parts.unshift(buf);
    pos -= len;
  }
  return Buffer.concat(parts).toString('utf8');
}

export async function countLines(file: string): Promise<number> {
  const handle = await fsp.open(file, 'r');
  try {
    let count = 0;
    const buf = Buffer.alloc(1 << 20);
    for (let pos = 0; ; ) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return count;
      for (let i = buf.indexOf(10); i !== -1 && i < bytesRead; i = buf.indexOf(10, i + 1)) count++;
      pos += bytesRead;
    }
  } finally {
    await handle.close();
  }
}
