import { createReadStream } from 'node:fs';
import type { LineChunk, RowReadOptions } from '../audit/chain.js';
import { parseRowLine, RowFormatError, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';

/**
 * Streams a JSON Lines file as chunks of whole lines, each in its own ArrayBuffer so it can be
 * transferred to a worker without copying. Memory stays at a few chunks whatever the file size.
 */
export async function* readLineChunks(file: string, chunkBytes = 1 << 20): AsyncGenerator<LineChunk> {
  let carry: Buffer = Buffer.alloc(0);
  for await (const piece of createReadStream(file, { highWaterMark: chunkBytes })) {
    const data: Buffer = carry.length === 0 ? (piece as Buffer) : Buffer.concat([carry, piece as Buffer]);
    const cut = data.lastIndexOf(10) + 1;
    if (cut === 0) {
      carry = data;
      continue;
    }
    carry = Buffer.from(data.subarray(cut));
    yield ownChunk(data.subarray(0, cut));
  }
  if (carry.length > 0) yield ownChunk(carry);
}

function ownChunk(view: Buffer): LineChunk {
  const bytes = new Uint8Array(view.length);
  bytes.set(view);
  let lines = 0;
  for (let i = bytes.indexOf(10); i !== -1; i = bytes.indexOf(10, i + 1)) lines++;
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
    const code = (err as NodeJS.ErrnoException).code;
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
