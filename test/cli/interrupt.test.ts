// Issue 23: Ctrl-C during a command that writes a file: the hidden temp file of the atomic write
// is removed and named, nothing appears at the destination, and the exit code is 130.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeBenchChain, writeBenchSigners } from '../bench/chain-file.js';
import { CLI } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

describe('Ctrl-C', () => {
  it('an interrupted audit export leaves no partial file, says what it removed, and exits 130', async () => {
    const cwd = tempDir();
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    await writeBenchChain(path.join(cwd, 'big.jsonl'), 150_000, privateKey, (i) => ({ action: 'x', i }));
    writeBenchSigners(path.join(cwd, 'signers.json'), publicKey);
    const child = spawn(
      process.execPath,
      ['--', CLI, 'audit', 'export', '--log', 'big.jsonl', '--out', 'out.jsonl', '--signers', 'signers.json'],
      { cwd, env: { ...process.env, NO_COLOR: '1' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const temp = () => readdirSync(cwd).filter((f) => f.startsWith('.out.jsonl.') && f.endsWith('.tmp'));
    for (let waited = 0; temp().length === 0 && waited < 30_000; waited += 10)
      await new Promise((r) => setTimeout(r, 10));
    expect(temp()).toHaveLength(1); // the export is under way
    child.kill('SIGINT');
    const code = await new Promise<number | null>((resolve) => child.once('exit', (c) => resolve(c)));
    expect(code).toBe(130);
    expect(stderr).toMatch(/interrupted; removed the partial out\.jsonl .*\.tmp/);
    expect(temp()).toEqual([]);
    expect(existsSync(path.join(cwd, 'out.jsonl'))).toBe(false);
  }, 120_000);
});
