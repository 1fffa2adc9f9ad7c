// moto (local AWS) on a random loopback port: `setup --sandbox` and the tests. The launcher
// (moto-server.py, next to this file's source) fixes moto 5.2.1's KMS DIGEST signing and exits
// when our end of its stdin closes, so it can never outlive us.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { openSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { UsageError } from '../errors.js';
import { packageRoot } from '../sys/fs.js';

export interface Moto {
  endpoint: string;
  /** Environment for anything that must reach this moto and nothing else. */
  env: Record<string, string>;
  logFile: string;
  stop(): Promise<void>;
}

function launcherPath(): string {
  return path.join(packageRoot(import.meta.url), 'src', 'sandbox', 'moto-server.py');
}

export function assertMotoInstalled(): void {
  const probe = spawnSync('python3', ['-c', 'import moto, moto.moto_server.threaded_moto_server'], { stdio: 'ignore' });
  if (probe.status !== 0) {
    throw new UsageError({
      code: 'SANDBOX_MOTO_MISSING',
      message: 'the sandbox needs moto (a local AWS emulator) and python3 cannot import it',
      hint: "install it: pip install 'moto[server]==5.2.1'",
    });
  }
}

export async function startMoto(
  opts: { patchKmsDigest?: boolean; extraEnv?: Record<string, string> } = {},
): Promise<Moto> {
  const logFile = path.join(tmpdir(), `agentkeys-moto-${process.pid}-${Date.now()}.log`);
  const child: ChildProcess = spawn('python3', [launcherPath()], {
    stdio: ['pipe', 'pipe', openSync(logFile, 'a')],
    env: {
      ...process.env,
      MOTO_PATCH_KMS_DIGEST: opts.patchKmsDigest === false ? '0' : '1',
      MOTO_IAM_LOAD_MANAGED_POLICIES: 'false',
      ...opts.extraEnv,
    },
  });
  const first = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) =>
      reject(
        new UsageError({
          code: 'SANDBOX_MOTO_FAILED',
          message: `moto exited with ${code} before listening; see ${logFile}`,
          hint: "check python3 -c 'import moto' (moto 5.2.1)",
        }),
      ),
    );
  });
  const { host, port } = JSON.parse(first) as { host: string; port: number };
  if (host !== '127.0.0.1') throw new Error(`moto listens on ${host}, not loopback`);
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    logFile,
    env: {
      AWS_ENDPOINT_URL: endpoint,
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
      AWS_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
    },
    stop: () =>
      new Promise<void>((resolve) => {
        // A moto killed by a signal has no exit code, only a signal code; its 'exit' has fired.
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.stdin!.end();
        child.kill('SIGTERM');
      }),
  };
}
