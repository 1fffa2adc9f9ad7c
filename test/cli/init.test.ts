// `agentkeys init` (issue 26): a new account's four env files from the five values, both stacks
// loadable as setup loads them, a state folder git ignores; bad values listed at once; nothing
// overwritten without --force; no terminal and a missing value names the flag.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadStack } from '../../src/config/stack.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const values = ['--account-id', '123456789012', '--zone', 'example.org', '--parent-zone-id', 'Z0123456789ABC'];

describe('agentkeys init', () => {
  it('writes both stacks from the five values; setup loads them; the state folder is git-ignored', async () => {
    const cwd = tempDir();
    const r = await runCli(['--json', 'init', 'ops', ...values], { cwd });
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const envDir = path.join(cwd, 'ops', 'env');
    const prod = await loadStack({ test: false, envDir, baseEnv: {} });
    expect([prod.accountId, prod.zone, prod.brokerHost, prod.mailDomain]).toEqual([
      '123456789012',
      'example.org',
      'broker.example.org',
      'bots.example.org',
    ]);
    const test = await loadStack({ test: true, envDir, baseEnv: {} });
    expect([test.brokerHost, test.mailDomain, test.parentZoneId]).toEqual([
      'test-broker.example.org',
      'bots-test.example.org',
      'Z0123456789ABC',
    ]);
    expect(readFileSync(path.join(cwd, 'ops', '.agentkeys', '.gitignore'), 'utf8')).toContain('*');
    const again = await runCli(['--json', 'init', 'ops', ...values], { cwd });
    expect(JSON.parse(again.stdout).error.code).toBe('OUTPUT_EXISTS');
    expect((await runCli(['--json', 'init', 'ops', ...values, '--force'], { cwd })).code).toBe(0);
  });

  it('lists every bad value at once, and names the flags it cannot ask for without a terminal', async () => {
    const cwd = tempDir();
    const bad = await runCli(
      [
        '--json',
        'init',
        '--account-id',
        '12',
        '--zone',
        'example.org',
        '--parent-zone-id',
        'nope',
        '--mail-domain',
        'x.other.org',
      ],
      { cwd },
    );
    const error = JSON.parse(bad.stdout).error as { code: string; details: string[] };
    expect(error.code).toBe('FLAG_INVALID');
    expect(error.details.join('\n')).toMatch(
      /account-id "12"[\s\S]*parent-zone-id "nope"[\s\S]*mail-domain "x.other.org"/,
    );
    const missing = await runCli(['--json', 'init', '--zone', 'example.org'], { cwd });
    expect(JSON.parse(missing.stdout).error).toMatchObject({
      code: 'FLAG_MISSING',
      message: expect.stringContaining('--account-id, --parent-zone-id'),
    });
  });
});
