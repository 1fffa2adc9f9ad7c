import { open, type FileHandle } from 'node:fs/promises';
import type { RowReadOptions } from '../audit/chain.js';
import type { LineChunk, SpareBuffers } from '../audit/line-chunks.js';
import { MAX_LINE_BYTES, OVERLONG_LINE_MARK, parseRowLine, RowFormatError, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { errnoCode } from '../sys/operator-file.js';

/**
 * Reads a JSON Lines file as chunks of whole lines, each read straight into its own ArrayBuffer
 * (no stream buffers, no second copy), so it can be transferred to a worker as it is. Memory stays
 * at the chunks in flight whatever the file size; a line longer than a chunk makes a larger one,
 * up to maxLineBytes: a longer line is skipped unread to its end and stands in the chunks as
 * OVERLONG_LINE_MARK with its size (a LINE_TOO_LONG finding), so a hostile line costs neither
 * memory nor a copy per read. With `spare`, buffers given back after use are filled again.
 */
export async function* readLineChunks(
  file: string,
  chunkBytes = 1 << 20,
  spare?: SpareBuffers,
  maxLineBytes = MAX_LINE_BYTES,
): AsyncGenerator<LineChunk> {
  const fh = await open(file, 'r');
  try {
    let carry: Uint8Array<ArrayBuffer> = new Uint8Array(0);
    for (;;) {
      // A little room for the carried part of a line, so that a spare buffer fits next time too.
      const buf = spare
        ? spare.take(carry.length + chunkBytes, chunkBytes + (64 << 10))
        : new Uint8Array(carry.length + chunkBytes);
      buf.set(carry);
      const { bytesRead } = await fh.read(buf, carry.length, chunkBytes, null);
      const filled = carry.length + bytesRead;
      if (bytesRead === 0) {
        if (carry.length > 0) yield withLineCount(carry);
        return;
      }
      const cut = buf.lastIndexOf(10, filled - 1) + 1;
      if (cut === 0 && filled > maxLineBytes) {
        const skipped = await skipToLineEnd(fh, filled, chunkBytes);
        yield overlongLine(skipped.length);
        carry = skipped.rest;
        continue;
      }
      if (cut === 0) {
        carry = buf.subarray(0, filled);
        continue;
      }
      carry = buf.slice(cut, filled);
      yield withLineCount(buf.subarray(0, cut));
    }
  } finally {
    await fh.close();
  }
}

/** Reads past the rest of a line into one scratch buffer: its whole length, and what follows it. */
async function skipToLineEnd(
  fh: FileHandle,
  seen: number,
  chunkBytes: number,
): Promise<{ length: number; rest: Uint8Array<ArrayBuffer> }> {
  const scratch = new Uint8Array(chunkBytes);
  let length = seen;
  for (;;) {
    const { bytesRead } = await fh.read(scratch, 0, chunkBytes, null);
    if (bytesRead === 0) return { length, rest: new Uint8Array(0) };
    const nl = scratch.subarray(0, bytesRead).indexOf(10);
    if (nl !== -1) return { length: length + nl, rest: scratch.slice(nl + 1, bytesRead) };
    length += bytesRead;
  }
}

function overlongLine(bytes: number): LineChunk {
  return { bytes: new Uint8Array(Buffer.from(`${OVERLONG_LINE_MARK}${bytes}\n`, 'latin1')), lines: 1 };
}

function withLineCount(bytes: Uint8Array): LineChunk {
  // Buffer's indexOf is native memchr: over ten times faster than a loop over the bytes or
  // Uint8Array's indexOf, and this runs on the thread that feeds the workers.
  const view = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let lines = 0;
  for (let nl = view.indexOf(10); nl !== -1; nl = view.indexOf(10, nl + 1)) lines++;
  if (bytes.length > 0 && bytes[bytes.length - 1] !== 10) lines++;
  return { bytes, lines };
}

/** Every row of a JSON Lines log in order; a malformed line fails the read unless skipMalformed. */
export async function* readFileRows(file: string, opts: RowReadOptions = {}): AsyncGenerator<AuditRow> {
  let index = 0;
  try {
    for await (const chunk of readLineChunks(file)) {
      const lines = Buffer.from(chunk.bytes).toString('utf8').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (const line of lines) yield* parseOrSkip(line, ++index, file, opts);
    }
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT')
      throw new AgentkeysError({
        code: 'LOG_NOT_FOUND',
        message: `cannot read log ${file}: ENOENT`,
        hint: 'check the --log path',
        cause: err,
      });
    throw err;
  }
}

function* parseOrSkip(line: string, index: number, file: string, opts: RowReadOptions): Generator<AuditRow> {
  try {
    yield parseRowLine(line);
  } catch (err) {
    if (!(err instanceof RowFormatError)) throw err;
    if (!opts.skipMalformed)
      throw new UsageError({
        code: 'SOURCE_ROW_MALFORMED',
        message: `${file} event ${index}: ${err.message}`,
        hint: `see every problem with: agentkeys verify-audit --log ${file}`,
      });
    opts.onMalformed?.(index, err.message);
  }
}
