// Issue 23: paths that are not what a command expects end in a usage error naming the path, with
// nothing left behind: a folder where a file belongs (sign, verify-audit, encrypt, decrypt,
// audit export), and a log that is a symlink, which a privileged writer would follow anywhere.
import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

async function withKey(): Promise<string> {
  const cwd = tempDir();
  expect((await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'a1'], { cwd })).code).toBe(0);
  mkdirSync(path.join(cwd, 'folder'));
  return cwd;
}

const SIGN = ['sign', '--key', 'local:a1', '--event-type', 't', '--payload', '{}'];

describe('a folder where a file belongs', () => {
  it('is a usage error naming the path, and nothing is written', async () => {
    const cwd = await withKey();
    const before = readdirSync(cwd).sort();
    const cases: [string[], string][] = [
      [[...SIGN, '--log', 'folder'], 'PATH_IS_DIRECTORY'],
      [['verify-audit', '--log', 'folder'], 'LOG_NOT_A_FILE'],
      [['encrypt', '--key', 'alias/x', '--in', 'folder', '--out', 'x.enc'], 'PATH_IS_DIRECTORY'],
      [['decrypt', '--discovery-account', '123456789012', '--in', 'folder', '--out', 'x.txt'], 'PATH_IS_DIRECTORY'],
      [['encrypt', '--key', 'alias/x', '--in', '.agentkeys/signers.json', '--out', 'folder'], 'PATH_IS_DIRECTORY'],
    ];
    for (const [args, code] of cases) {
      const r = await runCli(['--json', ...args], { cwd });
      expect([r.code, JSON.parse(r.stdout).error.code], args.join(' ')).toEqual([2, code]);
      expect(JSON.parse(r.stdout).error.message).toContain('folder');
    }
    expect(readdirSync(cwd).sort()).toEqual(before);
    expect(readdirSync(path.join(cwd, 'folder'))).toEqual([]);
  });
});

describe('a log that is a symlink', () => {
  it('is not written through (PATH_IS_SYMLINK) unless --follow-symlinks', async () => {
    const cwd = await withKey();
    const target = path.join(cwd, 'elsewhere.jsonl');
    writeFileSync(target, '');
    symlinkSync(target, path.join(cwd, 'link.jsonl'));
    const refused = await runCli(['--json', ...SIGN, '--log', 'link.jsonl'], { cwd });
    expect([refused.code, JSON.parse(refused.stdout).error.code]).toEqual([2, 'PATH_IS_SYMLINK']);
    expect(readFileSync(target, 'utf8')).toBe('');
    const followed = await runCli(['--follow-symlinks', ...SIGN, '--log', 'link.jsonl'], { cwd });
    expect(followed.code, followed.stderr).toBe(0);
    expect(readFileSync(target, 'utf8')).toContain('"event_type":"t"');
  });
});
