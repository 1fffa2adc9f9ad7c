import { promises as fsp } from 'node:fs';
import { UsageError } from '../errors.js';
import { errnoCode } from '../sys/operator-file.js';

/** Runs `use` on the file opened for reading; undefined when the file does not exist. */
export async function withFileIfExists<T>(
  file: string,
  use: (handle: fsp.FileHandle) => Promise<T | undefined>,
): Promise<T | undefined> {
  let handle: fsp.FileHandle;
  try {
    handle = await fsp.open(file, 'r');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  try {
    return await use(handle);
  } finally {
    await handle.close();
  }
}

/** The last line without its newline; undefined for a missing or empty file. A torn tail is an error. */
export function readLastLine(file: string): Promise<string | undefined> {
  return withFileIfExists(file, async (handle) => {
    const { size } = await handle.stat();
    if (size === 0) return undefined;
    const last = Buffer.alloc(1);
    await handle.read(last, 0, 1, size - 1);
    if (last[0] !== 10) {
      throw new UsageError({
        code: 'LOG_TAIL_TORN',
        message: `${file} does not end with a newline: its last line is incomplete`,
        hint: `inspect it with: agentkeys verify-audit --log ${file}`,
      });
    }
    return lineEndingAt(handle, size - 1);
  });
}

async function lineEndingAt(handle: fsp.FileHandle, end: number): Promise<string> {
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

/** The line whose newline is at byte `newlineAt`; undefined when the file has no newline there. */
export function readLineEndingAt(file: string, newlineAt: number): Promise<string | undefined> {
  return withFileIfExists(file, async (handle) => {
    const byte = Buffer.alloc(1);
    const { bytesRead } = await handle.read(byte, 0, 1, newlineAt);
    if (bytesRead !== 1 || byte[0] !== 10) return undefined;
    return lineEndingAt(handle, newlineAt);
  });
}

/** Newlines from byte `start` on; a start past the end counts nothing. */
export async function countLines(file: string, start = 0): Promise<number> {
  const handle = await fsp.open(file, 'r');
  try {
    let count = 0;
    const buf = Buffer.alloc(1 << 20);
    for (let pos = start; ;) {
      const { bytesRead } = await handle.read(buf, 0, buf.length, pos);
      if (bytesRead === 0) return count;
      for (let i = buf.indexOf(10); i !== -1 && i < bytesRead; i = buf.indexOf(10, i + 1)) count++;
      pos += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/**
 * The file's lines from the last to the first (each without its newline), read backwards in
 * 64 KiB blocks: finding an event near the end costs what is after it, not the whole file.
 */
export async function* linesFromEnd(file: string): AsyncGenerator<string> {
  const handle = await fsp.open(file, 'r');
  try {
    let pos = (await handle.stat()).size;
    let carry: Buffer = Buffer.alloc(0);
    let first = true;
    while (pos > 0) {
      const len = Math.min(64 * 1024, pos);
      const block = Buffer.alloc(len);
      await handle.read(block, 0, len, pos - len);
      pos -= len;
      let data = Buffer.concat([block, carry]);
      if (first && data[data.length - 1] === 10) data = data.subarray(0, data.length - 1);
      first = false;
      let nl = data.lastIndexOf(10);
      let end = data.length;
      while (nl !== -1) {
        yield data.subarray(nl + 1, end).toString('utf8');
        end = nl;
        nl = nl === 0 ? -1 : data.lastIndexOf(10, nl - 1);
      }
      carry = Buffer.from(data.subarray(0, end));
    }
    if (carry.length > 0) yield carry.toString('utf8');
  } finally {
    await handle.close();
  }
}
