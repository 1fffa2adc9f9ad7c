// moto (local AWS) on a random loopback port for one test file, with the KMS DIGEST patch of
// test/helpers/moto-server.py (moto 5.2.1 hashes DIGEST messages a second time; see
// ../shared/docs/aws-and-moto.md §2). Refuses to hand out anything but a loopback endpoint.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// From test/helpers (vitest) or dist/test/helpers (benchmarks): the launcher stays in test/helpers.
const here = path.dirname(fileURLToPath(import.meta.url));
const LAUNCHER = path.resolve(here.includes(`${path.sep}dist${path.sep}`) ? here.replace(`${path.sep}dist${path.sep}`, path.sep) : here, 'moto-server.py');

export interface Moto {
  endpoint: string;
  /** Environment for a CLI subprocess that must reach this moto and nothing else. */
  env: Record<string, string>;
  stop(): Promise<void>;
}

export async function startMoto(opts: { patchKmsDigest?: boolean } = {}): Promise<Moto> {
  const log = openSync(path.join(tmpdir(), `agentkeys-moto-${process.pid}-${Date.now()}.log`), 'a');
  const child: ChildProcess = spawn('python3', [LAUNCHER], {
    stdio: ['pipe', 'pipe', log],
    env: { ...process.env, MOTO_PATCH_KMS_DIGEST: opts.patchKmsDigest === false ? '0' : '1' },
  });
  const first = await new Promise<string>((resolve, reject) => {
    const rl = createInterface({ input: child.stdout! });
    rl.once('line', (line) => resolve(line));
    child.once('exit', (code) => reject(new Error(`moto-server.py exited with ${code} before listening (is moto 5.2.1 installed? python3 -c 'import moto')`)));
  });
  const { host, port } = JSON.parse(first) as { host: string; port: number };
  if (host !== '127.0.0.1') throw new Error(`moto listens on ${host}, not loopback`);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    env: { AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'test', AWS_SECRET_ACCESS_KEY: 'test', AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
    stop: () =>
      new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.stdin!.end();
        child.kill('SIGTERM');
      }),
  };
}

