// Issue 24: `sign` never appends an event that verify-audit, with the same registry, would reject.
// A kid absent from signers.json is published there (as keys create does) and the chain verifies;
// a kid the registry binds to another key is refused, naming the kid this key has; a registry given
// inline (KERNEL_PUBLIC_KEYS_JSON) cannot be written, so an absent kid is refused with what to do.
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';

const sign = (cwd: string, kid: string, env: Record<string, string> = {}) =>
  runCli(
    [
      '--json',
      'sign',
      '--log',
      'a.jsonl',
      '--key',
      'local:a1',
      '--signer-kid',
      kid,
      '--event-type',
      't',
      '--payload',
      '{}',
    ],
    {
      cwd,
      env,
    },
  );

async function twoKeys(): Promise<string> {
  const cwd = tempDir();
  for (const kid of ['a1', 'a2'])
    expect((await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', kid], { cwd })).code).toBe(0);
  return cwd;
}

describe('the kid sign writes', () => {
  it('absent from signers.json: published under it, and the chain verifies', async () => {
    const cwd = await twoKeys();
    const r = await sign(cwd, 'auditor-signing-v1');
    expect(r.code, r.stdout).toBe(0);
    const registry = JSON.parse(readFileSync(path.join(cwd, '.agentkeys/signers.json'), 'utf8')) as {
      signers: { signerId: string }[];
    };
    expect(registry.signers.map((s) => s.signerId)).toContain('auditor-signing-v1');
    expect((await runCli(['verify-audit', '--log', 'a.jsonl'], { cwd })).code).toBe(0);
  });

  it('bound to another key: SIGNER_KID_MISMATCH, naming the kid this key has; nothing written', async () => {
    const cwd = await twoKeys();
    const r = await sign(cwd, 'a2');
    expect([r.code, JSON.parse(r.stdout).error.code]).toEqual([2, 'SIGNER_KID_MISMATCH']);
    expect(JSON.parse(r.stdout).error.message).toContain('listed as a1');
    expect(() => readFileSync(path.join(cwd, 'a.jsonl'), 'utf8')).toThrow();
  });

  it('a registry agentkeys cannot write (KERNEL_PUBLIC_KEYS_JSON) without the kid: SIGNER_NOT_REGISTERED', async () => {
    const cwd = await twoKeys();
    const inline = readFileSync(path.join(cwd, '.agentkeys/signers.json'), 'utf8');
    const r = await sign(cwd, 'new-kid', {
      KERNEL_PUBLIC_KEYS_JSON: inline,
      AGENTKEYS_DIR: path.join(cwd, '.agentkeys'),
    });
    expect([r.code, JSON.parse(r.stdout).error?.code]).toEqual([2, 'SIGNER_NOT_REGISTERED']);
  });
});
