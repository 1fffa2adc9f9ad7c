// The settings file on every documented way of running agentkeys (issue 26): `npx agentkeys` runs
// npm on Node, and Node 20 takes any `--env-file` on its command line as its own (exit 9, "node:
// missing.env: not found") before agentkeys starts. `--settings F` and AGENTKEYS_SETTINGS are
// never Node's: they work under npx, the linked bin and plain node alike.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const root = path.resolve(import.meta.dirname, '..', '..');

async function npx(args: string[], cwd: string) {
  try {
    const { stdout, stderr } = await promisify(execFile)('npx', ['--prefix', root, 'agentkeys', ...args], {
      cwd,
      env: { ...process.env, NO_COLOR: '1' },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('the settings file', () => {
  it('--settings F under npx: read by agentkeys, a missing one is its own usage error', async () => {
    const cwd = tempDir();
    const missing = await npx(['--json', '--settings', 'missing.env', 'doctor', '--ci'], cwd);
    expect(missing.code).toBe(2);
    expect(JSON.parse(missing.stdout).error.code).toBe('ENV_FILE_NOT_FOUND');
    writeFileSync(path.join(cwd, 'ops.env'), 'AUDIT_SIGNER_KID=from-settings\n');
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd });
    const signed = await npx(
      [
        '--json',
        '--settings',
        'ops.env',
        'sign',
        '--log',
        'a.jsonl',
        '--key',
        'local:k1',
        '--event-type',
        't',
        '--payload',
        '{}',
      ],
      cwd,
    );
    expect(signed.code, signed.stderr).toBe(0);
    expect(JSON.parse(signed.stdout).signer_kid).toBe('from-settings');
  }, 60_000);

  it('AGENTKEYS_SETTINGS names it too; --env-file stays the same flag for the linked bin', async () => {
    const cwd = tempDir();
    writeFileSync(path.join(cwd, 'ops.env'), 'AUDIT_SIGNER_KID=from-env\n');
    await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd });
    const sign = (args: string[], env: Record<string, string> = {}) =>
      runCli(
        ['--json', ...args, 'sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}'],
        {
          cwd,
          env,
        },
      );
    const viaEnv = await sign([], { AGENTKEYS_SETTINGS: 'ops.env' });
    expect(JSON.parse(viaEnv.stdout).signer_kid).toBe('from-env');
    const viaFlag = await sign(['--env-file', 'ops.env']);
    expect(JSON.parse(viaFlag.stdout).signer_kid).toBe('from-env');
  });
});
