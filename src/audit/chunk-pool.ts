import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { InternalError } from '../errors.js';
import type { KeyRingData } from './keyring.js';
import type { ChunkJob, ChunkResult, WorkerReply } from './verify-chunk.js';

// A worker holds a few 1 MiB chunks at a time and makes only garbage: small heaps keep RSS flat
// (V8 grows a heap lazily up to its default limits otherwise) at no measurable cost in speed.
const WORKER_LIMITS = { maxYoungGenerationSizeMb: 4, maxOldGenerationSizeMb: 64 };
/** Larger chunks (a line of several MiB) are verified on the calling thread, outside those limits. */
export const MAX_WORKER_CHUNK_BYTES = 4 << 20;

interface Pending {
  job: ChunkJob;
  resolve: (r: ChunkResult) => void;
  reject: (e: unknown) => void;
}

/** A fixed set of worker threads verifying chunks; signature checks dominate and are independent. */
export class ChunkPool {
  private readonly idle: Worker[] = [];
  private readonly busy = new Map<Worker, Pending>();
  private readonly queue: Pending[] = [];

  /** onBytesBack: receives each chunk's buffer once its worker is done with it. */
  constructor(
    size: number,
    keyData: KeyRingData,
    private readonly onBytesBack: (buffer: ArrayBuffer) => void = () => {},
  ) {
    for (let i = 0; i < size; i++) this.idle.push(this.spawn(keyData));
  }

  run(job: ChunkJob): Promise<ChunkResult> {
    return new Promise((resolve, reject) => {
      this.queue.push({ job, resolve, reject });
      this.dispatch();
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.idle, ...this.busy.keys()].map((w) => w.terminate()));
  }

  private spawn(keyData: KeyRingData): Worker {
    const worker = new Worker(workerScriptUrl(), { workerData: keyData, resourceLimits: WORKER_LIMITS });
    worker.on('message', ({ result, bytes }: WorkerReply) => {
      const pending = this.busy.get(worker);
      this.busy.delete(worker);
      this.idle.push(worker);
      this.onBytesBack(bytes.buffer as ArrayBuffer);
      pending?.resolve(result);
      this.dispatch();
    });
    worker.on('error', (err) => {
      this.busy.get(worker)?.reject(
        new InternalError({
          code: 'VERIFY_WORKER_FAILED',
          message: `verification worker failed: ${err.message}`,
          cause: err,
        }),
      );
    });
    return worker;
  }

  private dispatch(): void {
    while (this.idle.length > 0 && this.queue.length > 0) {
      const worker = this.idle.pop()!;
      const pending = this.queue.shift()!;
      this.busy.set(worker, pending);
      worker.postMessage(pending.job, [pending.job.bytes.buffer as ArrayBuffer]);
    }
  }
}

// The worker must be compiled JavaScript. When this module runs from TypeScript sources (under
// vitest), point at the same file in dist/, which `npm test` builds first.
function workerScriptUrl(): URL {
  const here = fileURLToPath(import.meta.url);
  if (!here.endsWith('.ts')) return new URL('./verify-worker.js', import.meta.url);
  const compiled = here.replace(/([\\/])src([\\/])audit([\\/])[^\\/]+\.ts$/, '$1dist$1src$2audit$3verify-worker.js');
  return pathToFileURL(compiled);
}
