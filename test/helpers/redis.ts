// A throwaway redis-server (Debian's package) on a free loopback port, no persistence.
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './net.js';

export interface RunningRedis {
  url: string;
  stop(): Promise<void>;
}

export async function startRedis(password?: string): Promise<RunningRedis> {
  const port = await freePort();
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'];
  if (password) args.push('--requirepass', password);
  const child: ChildProcess = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    child.once('error', (err) =>
      reject(new Error(`redis-server did not start (apt-get install -y redis-server): ${err.message}`)),
    );
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('Ready to accept connections') && resolve());
  });
  const auth = password ? `:${encodeURIComponent(password)}@` : '';
  return {
    url: `redis://${auth}127.0.0.1:${port}`,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}
