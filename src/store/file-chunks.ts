import { createReadStream } from 'node:fs';

export interface LineChunk {
  bytes: Uint8Array;
  /** Number of lines in bytes (a final line without newline counts). */
  lines: number;
}

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

/** A chunk built from already-split lines (rows read from a database). */
export function linesToChunk(lines: readonly string[]): LineChunk {
  const bytes = new Uint8Array(Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
  return { bytes, lines: lines.length };
}
