// Issue 24: rotation under a fixed kid, as seed 000's production settings have it
// (AUDIT_SIGNING_KEY_SOURCE=kms, AUDIT_SIGNER_KID=auditor-signing-v1), across two rotations on
// moto: each new key takes the next version of the kid, the settings file moves with it (--yes),
// the chain verifies throughout, and signing with the old kid and the new key is refused.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();

describe('rotate-key under AUDIT_SIGNER_KID', () => {
  it('v1 → v2 → v3: the kid moves with each key, the settings file follows, the chain verifies', async () => {
    const cwd = tempDir();
    const env = moto.current.env;
    const run = (args: string[], extra: Record<string, string> = {}) =>
      runCli(args, { cwd, env: { ...env, ...extra } });
    const created = await run([
      'keys',
      'create',
      '--spec',
      'ECC_NIST_P256',
      '--alias',
      'alias/audit-kid',
      '--kid',
      'auditor-signing-v1',
    ]);
    expect(created.code, created.stderr).toBe(0);
    const settings = path.join(cwd, '.agentkeys', 'agentkeys.env');
    writeFileSync(
      settings,
      'AUDIT_SIGNING_KEY_SOURCE=kms\nAUDIT_SIGNING_KMS_KEY_ID=alias/audit-kid\nAUDIT_SIGNER_KID=auditor-signing-v1\n',
      { mode: 0o600 },
    );
    const sign = (extra: Record<string, string> = {}) =>
      run(['--json', 'sign', '--log', 'a.jsonl', '--event-type', 't', '--payload', '{"n":1}'], extra);
    const verify = async () => (await run(['verify-audit', '--log', 'a.jsonl'])).code;

    expect((await sign()).code).toBe(0);
    const arns: string[] = [];
    for (const [from, to] of [
      ['auditor-signing-v1', 'auditor-signing-v2'],
      ['auditor-signing-v2', 'auditor-signing-v3'],
    ]) {
      const rotated = await run(['--json', 'rotate-key', '--alias', 'alias/audit-kid', '--log', 'a.jsonl', '--yes']);
      expect(rotated.code, rotated.stdout + rotated.stderr).toBe(0);
      const out = JSON.parse(rotated.stdout) as {
        oldKid: string;
        newKid: string;
        oldKeyArn: string;
        newKeyArn: string;
        setting: { updated: boolean };
      };
      arns.push(out.oldKeyArn, out.newKeyArn);
      expect([out.oldKid, out.newKid, out.setting.updated]).toEqual([from, to, true]);
      expect(readFileSync(settings, 'utf8')).toContain(`AUDIT_SIGNER_KID=${to}\n`);
      // The old kid with the new key (a writer whose setting did not move): refused, naming the new kid.
      const stale = await sign({ AUDIT_SIGNER_KID: from });
      expect(JSON.parse(stale.stdout).error).toMatchObject({
        code: 'SIGNER_KID_MISMATCH',
        message: expect.stringContaining(to),
      });
      const signed = await sign();
      expect(signed.code, signed.stdout).toBe(0);
      expect(JSON.parse(signed.stdout).signer_kid).toBe(to);
      expect(await verify()).toBe(0);
    }
    const registry = JSON.parse(readFileSync(path.join(cwd, '.agentkeys', 'signers.json'), 'utf8')) as {
      signers: { signerId: string; validTo?: string; publicKey?: string }[];
    };
    expect(registry.signers.map((s) => s.signerId)).toEqual(
      expect.arrayContaining(['auditor-signing-v1', 'auditor-signing-v2', 'auditor-signing-v3']),
    );
    expect(registry.signers.find((s) => s.signerId === 'auditor-signing-v1')!.validTo).toBeDefined();

    // Retiring the old keys: not while the overlap runs, never the key the alias names, and then
    // the chain still verifies with those keys disabled (from the registry alone).
    const [v1, v2, , v3] = arns;
    const early = await run(['--json', 'rotate-key', '--alias', 'alias/audit-kid', '--finish', '--yes']);
    expect(JSON.parse(early.stdout).error.code).toBe('KEY_OVERLAP_OPEN');
    const finished = await run(['--json', 'rotate-key', '--alias', 'alias/audit-kid', '--finish', '--force', '--yes']);
    expect(JSON.parse(finished.stdout)).toMatchObject({ ok: true, key: v2, kids: ['auditor-signing-v2'] });
    const current = await run(['--json', 'keys', 'retire', '--key', `kms:${v3}`, '--force', '--yes']);
    expect(JSON.parse(current.stdout).error.code).toBe('KMS_KEY_IN_USE');
    const unasked = await run(['--json', 'keys', 'retire', '--key', `kms:${v1}`, '--force']);
    expect(JSON.parse(unasked.stdout).error.code).toBe('CONFIRMATION_REQUIRED');
    expect((await run(['keys', 'retire', '--key', `kms:${v1}`, '--force', '--yes'])).code).toBe(0);
    const states = await Promise.all(
      [v1, v2, v3].map(async (k) =>
        JSON.parse((await run(['--json', 'keys', 'describe', '--key', `kms:${k}`])).stdout),
      ),
    );
    expect(states.map((d) => d.state)).toEqual(['Disabled', 'Disabled', 'Enabled']);
    expect(await verify()).toBe(0);
    // A registry that holds another public key for it: its events would need KMS, so it is kept.
    const stripped = path.join(cwd, 'stripped.json');
    const v3Key = registry.signers.find((s) => s.signerId === 'auditor-signing-v3')!.publicKey;
    writeFileSync(
      stripped,
      JSON.stringify({
        ...registry,
        signers: registry.signers.map((s) => (s.signerId === 'auditor-signing-v1' ? { ...s, publicKey: v3Key } : s)),
      }),
    );
    const needed = await run(['--json', 'keys', 'retire', '--key', `kms:${v1}`, '--signers', stripped, '--yes']);
    expect(JSON.parse(needed.stdout).error.code).toBe('KMS_KEY_STILL_NEEDED');
  }, 120_000);

  it('keys retire keeps an HMAC key and a key the registry cannot verify without KMS', async () => {
    const cwd = tempDir();
    const run = (args: string[]) => runCli(args, { cwd, env: moto.current.env });
    const hmac = JSON.parse(
      (await run(['--json', 'keys', 'create', '--spec', 'HMAC_256', '--alias', 'alias/retire-hmac'])).stdout,
    );
    const asym = JSON.parse(
      (await run(['--json', 'keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', 'alias/retire-asym'])).stdout,
    );
    const refuse = async (arn: string, signers: string[] = []) =>
      JSON.parse(
        (await run(['--json', 'keys', 'retire', '--key', `kms:${arn}`, ...signers, '--force', '--yes'])).stdout,
      ).error;
    expect(await refuse(hmac.keyArn)).toMatchObject({ code: 'KMS_KEY_STILL_NEEDED' });
    expect(await refuse(asym.keyArn)).toMatchObject({ code: 'KMS_KEY_IN_USE' });
  });
});
