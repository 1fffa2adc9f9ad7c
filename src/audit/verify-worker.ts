// Worker thread entry: verifies chunks of a log with the key ring it was started with.
import { parentPort, workerData } from 'node:worker_threads';
import { KeyRing, type KeyRingData } from './keyring.js';
import { verifyChunk, type ChunkJob, type WorkerReply } from './verify-chunk.js';

const keys = new KeyRing(workerData as KeyRingData);
// The chunk's bytes go back with the result (transferred, so detached here) for the reader to
// fill again: held here until a major collection, which a worker making only short-lived garbage
// rarely runs, chunks grew peak RSS by 80 MiB.
parentPort!.on('message', (job: ChunkJob) => {
  const reply: WorkerReply = { result: verifyChunk(job, keys), bytes: job.bytes };
  parentPort!.postMessage(reply, [job.bytes.buffer as ArrayBuffer]);
});
