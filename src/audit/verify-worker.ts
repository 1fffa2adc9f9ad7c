// Worker thread entry: verifies chunks of a log with the key ring it was started with.
import { parentPort, workerData } from 'node:worker_threads';
import { KeyRing, type KeyRingData } from './keyring.js';
import { verifyChunk, type ChunkJob } from './verify-chunk.js';

const keys = new KeyRing(workerData as KeyRingData);
parentPort!.on('message', (job: ChunkJob) => {
  parentPort!.postMessage(verifyChunk(job, keys));
});
