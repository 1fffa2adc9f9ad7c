// `agentkeys sandbox` (issue 26): a local AWS that stays up until Ctrl-C, and the exports that
// point agentkeys at it, so envelope encryption (and evm, mcp) can be tried with no account.
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';
import { CLI, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('agentkeys sandbox', () => {
  it('serves moto until SIGINT; its exports let encrypt and decrypt run against it', async () => {
    const cwd = tempDir();
    const child = spawn(process.execPath, [CLI, 'sandbox'], { cwd, env: { ...process.env, NO_COLOR: '1' } });
    const env: Record<string, string> = {};
    const lines = createInterface({ input: child.stdout! });
    await new Promise<void>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`sandbox exited ${code}`)));
      lines.on('line', (line) => {
        const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line);
        if (m) env[m[1]!] = m[2]!;
        if (env.AWS_EC2_METADATA_DISABLED) resolve();
      });
    });
    try {
      expect(env.AWS_ENDPOINT_URL).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const created = await runCli(
        ['--json', 'keys', 'create', '--spec', 'SYMMETRIC_DEFAULT', '--alias', 'alias/try'],
        {
          cwd,
          env,
        },
      );
      expect(created.code, created.stderr).toBe(0);
      writeFileSync(path.join(cwd, 'secret.txt'), 'hello\n');
      const run = (args: string[]) => runCli(args, { cwd, env });
      expect((await run(['encrypt', '--key', 'kms:alias/try', '--context', 'k=v', 'secret.txt'])).code).toBe(0);
      const plain = await run(['decrypt', '--key', 'kms:alias/try', '--context', 'k=v', '--in', 'secret.txt.enc']);
      expect(plain.stdout).toBe('hello\n');
    } finally {
      child.kill('SIGINT');
    }
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(0);
  }, 60_000);

  it('--keep DIR without a kept sandbox is SANDBOX_NOT_FOUND, with the command that makes one', async () => {
    const cwd = tempDir();
    const r = await runCli(['--json', 'sandbox', '--keep', 'nothing-here'], { cwd });
    expect(JSON.parse(r.stdout).error).toMatchObject({
      code: 'SANDBOX_NOT_FOUND',
      hint: expect.stringContaining('setup --sandbox --keep nothing-here'),
    });
  });
});
