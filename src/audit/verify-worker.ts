// Worker thread entry: verifies chunks of a log with the key ring it was started with.
import { parentPort, workerData } from 'node:worker_threads';
import { KeyRing, type KeyRingData } from './keyring.js';
import { verifyChunk, type ChunkJob } from './verify-chunk.js';

const keys = new KeyRing(workerData as KeyRingData);
// The chunk's bytes go back with the result (transferred, so detached here): a worker makes only
// short-lived garbage, its old generation is rarely collected, and chunks held until then grew
// peak RSS by 80 MiB.
parentPort!.on('message', (job: ChunkJob) => {
  parentPort!.postMessage(verifyChunk(job, keys), [job.bytes.buffer as ArrayBuffer]);
});
