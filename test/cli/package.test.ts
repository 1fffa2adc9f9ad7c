// The published package (issue 25): `npm pack` ships the CLI, its templates, env examples,
// migrations and the sandbox's moto launcher, and none of the test code tsconfig also compiles
// (test/bench, test/helpers). The tarball, unpacked beside this clone's node_modules, runs.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readdirSync, symlinkSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { tempDir } from '../helpers/tmp.js';

const root = path.resolve(import.meta.dirname, '..', '..');

describe('npm pack', () => {
  it('ships what the CLI needs and no test code, and the unpacked tarball signs and verifies', () => {
    const out = tempDir();
    const packed = JSON.parse(
      execFileSync('npm', ['pack', '--json', '--pack-destination', out], { cwd: root, encoding: 'utf8' }),
    ) as { filename: string; files: { path: string }[] }[];
    const files = packed[0]!.files.map((f) => f.path);
    expect(files.filter((f) => f.startsWith('dist/test/'))).toEqual([]);
    for (const needed of [
      'dist/bin/agentkeys.js',
      'src/sandbox/moto-server.py',
      'templates/iam',
      'src/db/migrations',
      'env/broker.test.env',
    ])
      expect(
        files.some((f) => f.startsWith(needed)),
        needed,
      ).toBe(true);
    execFileSync('tar', ['-xzf', path.join(out, packed[0]!.filename), '-C', out]);
    const pkg = path.join(out, 'package');
    symlinkSync(path.join(root, 'node_modules'), path.join(pkg, 'node_modules'));
    const cwd = tempDir();
    const run = (...args: string[]) =>
      spawnSync(process.execPath, [path.join(pkg, 'dist', 'bin', 'agentkeys.js'), ...args], {
        cwd,
        encoding: 'utf8',
        env: { ...process.env, NO_COLOR: '1' },
      });
    expect(run('keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1').status).toBe(0);
    const signed = run('sign', '--log', 'a.jsonl', '--key', 'local:k1', '--event-type', 't', '--payload', '{}');
    expect(signed.status, signed.stderr).toBe(0);
    expect(run('verify-audit', '--log', 'a.jsonl').status).toBe(0);
    expect(readdirSync(path.join(pkg, 'dist'))).toEqual(['bin', 'commands', 'src']);
    expect(existsSync(path.join(pkg, 'dist', 'test'))).toBe(false);
  }, 120_000);
});
