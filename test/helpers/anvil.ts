// A real local Ethereum node (foundry's anvil, a binary inside the @foundry-rs/anvil npm package)
// on a random loopback port, for broadcasting the transactions agentkeys signs.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll } from 'vitest';
import { createPublicClient, createTestClient, http, type Address } from 'viem';
import { foundry } from 'viem/chains';

export interface Anvil {
  url: string;
  chainId: number;
  public: ReturnType<typeof createPublicClient>;
  fund(address: Address, wei: bigint): Promise<void>;
  stop(): Promise<void>;
}

function anvilBinary(): string {
  const require = createRequire(import.meta.url);
  const platformPkg = `@foundry-rs/anvil-${process.platform}-${process.arch === 'x64' ? 'amd64' : process.arch}/package.json`;
  const binary = path.join(path.dirname(require.resolve(platformPkg)), 'bin', 'anvil');
  if (!existsSync(binary))
    throw new Error(`anvil binary missing at ${binary}: npm ci should have installed ${platformPkg}`);
  return binary;
}

export async function startAnvil(): Promise<Anvil> {
  const child: ChildProcess = spawn(anvilBinary(), ['--host', '127.0.0.1', '--port', '0', '--chain-id', '31337'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.on('line', (line) => {
      const m = /Listening on 127\.0\.0\.1:(\d+)/.exec(line);
      if (m) resolve(Number(m[1]));
    });
    child.once('exit', (code) => reject(new Error(`anvil exited with ${code} before listening`)));
  });
  child.stdout!.resume();
  const url = `http://127.0.0.1:${port}`;
  const transport = http(url);
  const testClient = createTestClient({ chain: foundry, mode: 'anvil', transport });
  return {
    url,
    chainId: 31337,
    public: createPublicClient({ chain: foundry, transport }),
    fund: (address, wei) => testClient.setBalance({ address, value: wei }),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** One anvil for a test file, started before its tests and stopped after. */
export function useAnvil(): { readonly current: Anvil } {
  const holder: { current?: Anvil } = {};
  beforeAll(async () => {
    holder.current = await startAnvil();
  }, 30_000);
  afterAll(async () => {
    await holder.current?.stop();
  });
  return {
    get current() {
      if (!holder.current) throw new Error('anvil is not running: useAnvil() must be called at the top of the file');
      return holder.current;
    },
  };
}
