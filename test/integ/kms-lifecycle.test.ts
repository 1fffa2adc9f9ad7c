// Issue 24: each KMS key lifecycle verb against moto (which models disable, deletion and on-demand
// rotation): list, disable/enable, rotate-now with its history in describe, and schedule-deletion
// refused while something needs the key through KMS, confirmed otherwise, and cancelled. moto
// 5.2.1's DisableKey and its kin resolve key IDs only (AWS takes ARNs too): agentkeys passes IDs.
import { describe, expect, it } from 'vitest';
import { createKmsApi } from '../../src/aws/kms.js';
import { runCli } from '../helpers/cli.js';
import { useMoto } from '../helpers/moto.js';
import { tempDir } from '../helpers/tmp.js';

const moto = useMoto();

describe('keys lifecycle', () => {
  it('list, disable, enable, rotate-now, schedule-deletion (refused, confirmed) and cancel-deletion', async () => {
    const cwd = tempDir();
    const env = moto.current.env;
    const json = async (args: string[]) => {
      const r = await runCli(['--json', ...args], { cwd, env });
      return { code: r.code, out: JSON.parse(r.stdout) as Record<string, unknown> & { error?: { code: string } } };
    };
    const kms = createKmsApi({ region: 'us-east-1' });
    const data = (await kms.createKey({ KeySpec: 'SYMMETRIC_DEFAULT', KeyUsage: 'ENCRYPT_DECRYPT' })).Arn!;
    const signing = await json(['keys', 'create', '--spec', 'ECC_NIST_P256', '--alias', 'alias/life-sign']);
    expect(signing.code).toBe(0);
    const signArn = signing.out.keyArn as string;

    const listed = await json(['keys', 'list']);
    const arns = (listed.out.keys as { keyArn: string }[]).map((k) => k.keyArn);
    expect(arns).toEqual(expect.arrayContaining([data, signArn]));

    expect((await json(['keys', 'disable', '--key', `kms:${data}`])).code).toBe(0);
    expect((await kms.describeKey(data)).KeyState).toBe('Disabled');
    expect((await json(['keys', 'enable', '--key', `kms:${data}`])).code).toBe(0);
    expect((await kms.describeKey(data)).KeyState).toBe('Enabled');

    expect((await json(['keys', 'rotate-now', '--key', `kms:${data}`])).code).toBe(0);
    const described = await json(['keys', 'describe', '--key', `kms:${data}`]);
    expect((described.out.rotations as { type: string }[]).map((r) => r.type)).toContain('ON_DEMAND');
    const notNative = await json(['keys', 'rotate-now', '--key', `kms:${signArn}`]);
    expect([notNative.code, notNative.out.error?.code]).toEqual([2, 'KMS_ROTATION_UNSUPPORTED']);

    // An encryption key: data under it would be lost. Refused without --force.
    const refused = await json(['keys', 'schedule-deletion', '--key', `kms:${data}`, '--days', '7', '--yes']);
    expect([refused.code, refused.out.error?.code]).toEqual([2, 'KMS_KEY_STILL_NEEDED']);
    // The signing key's public key is in signers.json (keys create published it): deletable, once confirmed.
    const unconfirmed = await json(['keys', 'schedule-deletion', '--key', `kms:${signArn}`, '--days', '7']);
    expect([unconfirmed.code, unconfirmed.out.error?.code]).toEqual([1, 'CONFIRMATION_REQUIRED']);
    const scheduled = await json(['keys', 'schedule-deletion', '--key', `kms:${signArn}`, '--days', '7', '--yes']);
    expect(scheduled.code).toBe(0);
    expect((await kms.describeKey(signArn)).KeyState).toBe('PendingDeletion');
    expect((await json(['keys', 'cancel-deletion', '--key', `kms:${signArn}`])).code).toBe(0);
    expect((await kms.describeKey(signArn)).KeyState).toBe('Disabled');
    const forced = await json(['keys', 'schedule-deletion', '--key', `kms:${data}`, '--days', '7', '--yes', '--force']);
    expect([forced.code, forced.out.forced]).toEqual([0, true]);
  }, 60_000);
});
