import { afterAll, beforeAll } from 'vitest';
import { startMoto, type Moto } from '../../src/sandbox/moto.js';

export { startMoto, type Moto };

/** Empties every service of the moto (≈10 ms), for tests that reuse fixed resource names. */
export async function resetMoto(moto: Moto): Promise<void> {
  const res = await fetch(`${moto.endpoint}/moto-api/reset`, { method: 'POST' });
  if (!res.ok) throw new Error(`moto reset failed: HTTP ${res.status}`);
}

/** One moto for the file; process.env points the in-process SDK at it. */
export function useMoto(opts: { patchKmsDigest?: boolean; extraEnv?: Record<string, string> } = {}): {
  current: Moto;
} {
  const holder = {} as { current: Moto };
  beforeAll(async () => {
    holder.current = await startMoto(opts);
    Object.assign(process.env, holder.current.env);
  }, 30_000);
  afterAll(async () => {
    await holder.current?.stop();
    delete process.env.AWS_ENDPOINT_URL;
  });
  return holder;
}
