// Chunks of log lines as the verifier reads them, and the buffers a file reader reuses for them.

export interface LineChunk {
  bytes: Uint8Array;
  /** Number of lines in bytes (a final line without newline counts). */
  lines: number;
}

/**
 * Chunk buffers given back once verified, for the reader to fill again: a verification of a large
 * log then allocates a handful of buffers instead of one per megabyte, and the collector, which
 * frees an ArrayBuffer only when it collects the object holding it, has none to chase.
 */
export class SpareBuffers {
  private readonly free: ArrayBuffer[] = [];
  // Kept only for a reader that takes them: a source that builds its chunks otherwise (Postgres)
  // never takes, and its buffers are left to the collector as before.
  private taking = false;

  constructor(private readonly keep = 8) {}

  give(buffer: ArrayBuffer): void {
    if (this.taking && buffer.byteLength > 0 && this.free.length < this.keep) this.free.push(buffer);
  }

  /** A buffer of at least `size` bytes (its contents are stale: the caller overwrites them). */
  take(size: number, allocate: number): Uint8Array<ArrayBuffer> {
    this.taking = true;
    const spare = this.free.pop();
    if (spare && spare.byteLength >= size) return new Uint8Array(spare);
    return new Uint8Array(Math.max(size, allocate));
  }
}

/** A chunk built from already-split lines (rows read from a database). */
export function linesToChunk(lines: readonly string[]): LineChunk {
  const bytes = new Uint8Array(Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
  return { bytes, lines: lines.length };
}
