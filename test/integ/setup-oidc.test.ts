// The OIDC federation step needs an issuer serving /.well-known/openid-configuration over TLS,
// which moto cannot provide: the discovery fetch is injected here (SetupContext.fetchJson);
// everything else (IAM provider, trusts, inline policies, bucket policies) is moto over HTTP.
import { beforeEach, describe, expect, it } from 'vitest';
import { createSetupContext } from '../../src/context.js';
import { runSteps, selectSteps } from '../../src/steps/runner.js';
import { loadStack } from '../../src/config/stack.js';
import { STEPS } from '../../src/setup/steps/index.js';
import { resetMoto, useMoto } from '../helpers/moto.js';
import { seedAccount, stackFiles } from '../helpers/setup-harness.js';
import * as path from 'node:path';

const moto = useMoto();
beforeEach(async () => resetMoto(moto.current));

async function context(serving: boolean | (() => boolean), issuer?: string) {
  const { zoneId } = await seedAccount();
  const files = await stackFiles(zoneId, { test: true });
  const stack = await loadStack({ test: true, envDir: path.join(files.cwd, 'env') });
  const { ctx, calls } = await createSetupContext({
    stack,
    auth: {},
    dir: path.join(files.cwd, '.agentkeys'),
    showSecret: false,
    confirm: async () => true,
    report: () => undefined,
    retryDelayMs: 0,
    fetchJson: async () =>
      (typeof serving === 'function' ? serving() : serving)
        ? { status: 200, json: { issuer: issuer ?? stack.oidcIssuer, jwks_uri: `${stack.oidcIssuer}/jwks.json` } }
        : { status: 503 },
  });
  return { ctx, calls, stack };
}

describe('OIDC federation step', () => {
  it('waits while the issuer does not serve its discovery document', async () => {
    const { ctx } = await context(false);
    const { records } = await runSteps(ctx, selectSteps(STEPS, { onlyStep: 'oidc' }), { plan: false, verify: false });
    expect(records[0]).toMatchObject({ status: 'waiting', hint: expect.stringContaining('--only-step oidc') });
  });

  it('--wait re-checks until the issuer comes up, or gives up with the re-run command', async () => {
    let probes = 0;
    const { ctx } = await context(() => ++probes > 2);
    await runSteps(ctx, selectSteps(STEPS, { toStep: '16' }), { plan: false, verify: false });
    const seen: string[] = [];
    const up = await runSteps(ctx, selectSteps(STEPS, { onlyStep: 'oidc' }), {
      plan: false,
      verify: false,
      waitSeconds: 5,
      pollIntervalMs: 50,
      onWait: (_s, reason) => seen.push(reason),
    });
    expect(up.records[0]!.status).toBe('done');
    expect(seen.length).toBeGreaterThanOrEqual(1);
    const down = await context(false);
    const gaveUp = await runSteps(down.ctx, selectSteps(STEPS, { onlyStep: 'oidc' }), {
      plan: false,
      verify: false,
      waitSeconds: 1,
      pollIntervalMs: 100,
    });
    expect(gaveUp.records[0]).toMatchObject({
      status: 'waiting',
      reason: expect.stringContaining('gave up after 1 s'),
      hint: expect.stringContaining('--only-step oidc'),
    });
  });

  it('refuses an issuer that does not match byte for byte', async () => {
    const { ctx, stack } = await context(true, 'https://test-broker.litentry.org/');
    await runSteps(ctx, selectSteps(STEPS, { toStep: '16' }), { plan: false, verify: false });
    const { records } = await runSteps(ctx, selectSteps(STEPS, { onlyStep: 'oidc' }), { plan: false, verify: false });
    expect(records[0]!.status).toBe('blocked');
    expect(await ctx.aws.getOidcProvider(stack.oidcProviderArn)).toBeUndefined();
  });

  it('federates the roles, drops the broad grant, scopes the mail bucket; later runs do not undo it', async () => {
    const { ctx, calls, stack } = await context(true);
    await runSteps(ctx, selectSteps(STEPS, { toStep: '16' }), { plan: false, verify: false });
    const { records } = await runSteps(ctx, selectSteps(STEPS, { onlyStep: 'oidc' }), { plan: false, verify: false });
    expect(records[0]!.status).toBe('done');
    expect(records[0]!.changes.map((c) => c.resource)).toEqual(
      expect.arrayContaining([
        `OIDC provider ${stack.oidcIssuer}`,
        `IAM role ${stack.dataRole} trust`,
        `${stack.dataRole}-inline`,
      ]),
    );
    expect((await ctx.aws.getOidcProvider(stack.oidcProviderArn))!.clientIds).toEqual(['sts.amazonaws.com']);
    const trust = JSON.parse((await ctx.aws.getRole(stack.dataRole))!.trust);
    expect(trust.Statement[0].Action).toEqual(['sts:AssumeRoleWithWebIdentity', 'sts:TagSession']);
    expect(await ctx.aws.getRolePolicy(stack.dataRole, `${stack.dataRole}-inline`)).toBeUndefined();
    const mail = JSON.parse((await ctx.aws.getBucketPolicy(stack.mailBucket))!);
    expect(mail.Statement.map((s: { Sid: string }) => s.Sid).sort()).toEqual([
      'AllowSESWriteInbound',
      'EmailRoleGetOwnObjects',
      'EmailRoleListOwnPrefix',
    ]);
    expect(JSON.stringify(mail)).toContain('bots/${aws:PrincipalTag/agentkeys_actor_omni}/email/*');
    // Steps 1-18 again (19, the witness, is unrelated): 11, 13 and 14 render by phase, so nothing ping-pongs back.
    const mutatingBefore = calls.mutating;
    const again = await runSteps(ctx, selectSteps(STEPS, { toStep: '18' }), { plan: false, verify: false });
    expect(again.records.filter((r) => r.changes.length > 0)).toEqual([]);
    expect(calls.mutating).toBe(mutatingBefore);
  });
});
