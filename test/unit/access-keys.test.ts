// Long-lived access keys (issue 27): doctor holds the daemon's and the SSH user's keys to CIS's 90
// days, and `setup --rotate-access-keys` replaces them with overlap (the new key is in the 0600
// credentials file before the old one is deactivated and deleted). In-process, on the fakes.
import { statSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { accessKeyAgeCheck } from '../../src/doctor/checks/aws.js';
import { runSteps } from '../../src/steps/runner.js';
import { STEPS } from '../../src/setup/steps/index.js';
import { readProfiles } from '../../src/setup/credentials-file.js';
import { fakeSetup } from '../fakes/setup-context.js';

const upTo = (num: number) => STEPS.filter((s) => s.num <= num);

describe('access keys', () => {
  it('doctor: ok while young, a warning naming the rotation once 90 days old', async () => {
    const env = await fakeSetup();
    const ctx = await env.context();
    await runSteps(ctx, upTo(12), { plan: false, verify: false });
    const at = (days: number) => ({
      setup: ctx,
      config: {} as never,
      http: {} as never,
      now: new Date(Date.now() + days * 86_400_000),
    });
    const young = await accessKeyAgeCheck.run(at(0));
    expect(young.status).toBe('ok');
    expect(young.detail).toMatch(/agentkeys-daemon-test AKIAFAKE… 0 days; agentkeys-broker-test AKIAFAKE… 0 days/);
    const old = await accessKeyAgeCheck.run(at(91));
    expect(old).toMatchObject({
      status: 'warn',
      fix:
        'agentkeys setup --test --only-step daemon-user --rotate-access-keys && ' +
        'agentkeys setup --test --only-step ssh-user --rotate-access-keys',
    });
  });

  it('setup --rotate-access-keys: the new key is in the 0600 file, the old one gone; it converges', async () => {
    const env = await fakeSetup();
    const first = await env.context();
    await runSteps(first, upTo(12), { plan: false, verify: false });
    const before = (await readProfiles(first.credentialsFile)).get('agentkeys-daemon-test')!.aws_access_key_id;
    const ctx = await env.context();
    ctx.rotateAccessKeys = new Set(['agentkeys-daemon-test']);
    const daemon = STEPS.find((s) => s.id === 'daemon-user')!;
    const plan = await daemon.check(ctx);
    expect(plan.status).toBe('pending');
    const [record] = (await runSteps(ctx, [daemon], { plan: false, verify: false })).records;
    expect(record!.status).toBe('done'); // applied, then checked again: nothing more to do
    const after = (await readProfiles(ctx.credentialsFile)).get('agentkeys-daemon-test')!.aws_access_key_id;
    expect(after).not.toBe(before);
    expect((await ctx.aws.listAccessKeys('agentkeys-daemon-test')).map((k) => k.id)).toEqual([after]);
    expect(statSync(ctx.credentialsFile).mode & 0o777).toBe(0o600);
    // The SSH user's key was not asked for, and stays.
    expect((await ctx.aws.listAccessKeys('agentkeys-broker-test')).length).toBe(1);
  });
});
