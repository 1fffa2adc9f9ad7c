// Issue 12, setup's runtime grants against moto over HTTP: the broker host's instance profile with
// its SendEmail grant (seed 004 §6, §6.1), the audit signers' kms:Sign grant on the key ARN (seed
// 000 §4), and the §7 security audit that detaches over-broad policies only with a yes.
// moto deviations met here (aws-and-moto.md): IAM authorization is not evaluated, so these tests
// check the documents AWS would evaluate, not a denied call; moto has no AWS managed policies
// (unless MOTO_IAM_LOAD_MANAGED_POLICIES), so the early deploy's AmazonS3FullAccess is played by a
// customer managed policy with the same grant (the by-name rule is unit-tested).
import { appendFileSync } from 'node:fs';
import { IAM } from '@aws-sdk/client-iam';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSetupAws } from '../../src/aws/setup-api.js';
import { createKmsApi } from '../../src/aws/kms.js';
import { runCli } from '../helpers/cli.js';
import { resetMoto, useMoto } from '../helpers/moto.js';
import { seedAccount, stackFiles, type StackFiles } from '../helpers/setup-harness.js';

const moto = useMoto();
beforeEach(async () => resetMoto(moto.current));
const aws = () => createSetupAws({ region: 'us-east-1', retryDelayMs: 0 });
const iam = () => new IAM({ region: 'us-east-1' });
const S3_FULL = 'arn:aws:iam::123456789012:policy/early-deploy-s3';

interface SetupOut {
  steps: {
    id: string;
    status: string;
    reason?: string;
    hint?: string;
    changes: { resource: string; detail?: string }[];
  }[];
  calls: { mutating: number };
  error?: { code: string };
}

async function setup(files: StackFiles, ...args: string[]) {
  const r = await runCli(['--json', 'setup', '--test', ...args], { cwd: files.cwd, env: moto.current.env });
  return { code: r.code, out: JSON.parse(r.stdout) as SetupOut, stderr: r.stderr };
}
const step = (out: SetupOut, id: string) => out.steps.find((s) => s.id === id)!;
const policy = async (role: string, name: string) => JSON.parse((await aws().getRolePolicy(role, name))!);

describe('the alert topic (step 23, issue 27)', () => {
  it('creates agentkeys-alerts-test, subscribes ALERT_EMAIL, grants the broker host publish and rotation reads; idempotent; teardown removes it', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    appendFileSync(files.operator, '\nALERT_EMAIL=ops@example.com\n');
    const up = await setup(files, '--yes');
    expect(step(up.out, 'alerts').status, up.stderr).toBe('done');
    expect(step(up.out, 'alerts').changes.map((c) => c.resource)).toEqual([
      'SNS topic agentkeys-alerts-test',
      'subscription ops@example.com → agentkeys-alerts-test',
      'agentkeys-broker-host-test/agentkeys-broker-host-test-watch',
    ]);
    const topic = 'arn:aws:sns:us-east-1:123456789012:agentkeys-alerts-test';
    expect((await aws().listSubscriptions(topic)).map((s) => s.endpoint)).toEqual(['ops@example.com']);
    const key = await createKmsApi({ region: 'us-east-1' }).describeKey('alias/agentkeys-audit-test');
    expect((await policy('agentkeys-broker-host-test', 'agentkeys-broker-host-test-watch')).Statement).toEqual([
      { Sid: 'Alerts', Effect: 'Allow', Action: 'sns:Publish', Resource: topic },
      {
        Sid: 'RotationWatch',
        Effect: 'Allow',
        Action: ['kms:DescribeKey', 'kms:GetKeyRotationStatus'],
        Resource: key.Arn,
      },
      { Sid: 'RotationWatchAliases', Effect: 'Allow', Action: 'kms:ListAliases', Resource: '*' },
    ]);
    // The security audit (step 22) finds nothing over-broad in it: ListAliases has no resource level.
    const again = await setup(files, '--yes');
    expect(again.out.calls.mutating).toBe(0);
    expect(step(again.out, 'security-audit').status).toBe('done');
    const down = await runCli(['--json', 'teardown', '--test', '--yes'], { cwd: files.cwd, env: moto.current.env });
    expect(down.code, down.stderr).toBe(0);
    expect(await aws().getTopic(topic)).toBeUndefined();
  }, 120_000);
});

describe('runtime grants', () => {
  it('the broker host gets an instance profile on its instance, SendEmail from the sender only, and kms:Sign on the audit key ARN', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const up = await setup(files, '--to-step', '22');
    expect(up.code, up.stderr).toBe(0);
    for (const id of ['broker-host', 'audit-signing-grant', 'security-audit'])
      expect(step(up.out, id).status).toBe('done');
    const runtime = await policy('agentkeys-broker-host-test', 'agentkeys-broker-host-test-runtime');
    expect(runtime.Statement.map((s: { Sid: string }) => s.Sid)).toEqual(['BrokerAssumeData', 'BrokerSendEmail']);
    expect(runtime.Statement[1]).toMatchObject({
      Action: 'ses:SendEmail',
      Condition: { StringEquals: { 'ses:FromAddress': 'noreply-test@bots-test.litentry.org' } },
    });
    const key = await createKmsApi({ region: 'us-east-1' }).describeKey('alias/agentkeys-audit-test');
    const witness = 'arn:aws:s3:::agentkeys-witness-test-123456789012';
    // Issue 21: the signers write each checkpoint to the witness once; nothing lets them delete it.
    expect((await policy('agentkeys-broker-host-test', 'agentkeys-audit-sign-test')).Statement).toEqual([
      { Effect: 'Allow', Action: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'], Resource: key.Arn },
      { Sid: 'WitnessWriteOnce', Effect: 'Allow', Action: ['s3:PutObject'], Resource: `${witness}/*` },
      {
        Sid: 'WitnessRead',
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:GetObjectVersion'],
        Resource: `${witness}/*`,
      },
      {
        Sid: 'WitnessInspect',
        Effect: 'Allow',
        Action: ['s3:ListBucketVersions', 's3:GetBucketVersioning', 's3:GetBucketObjectLockConfiguration'],
        Resource: witness,
      },
    ]);
    expect(await aws().describeProfileAssociation(files.instanceId)).toMatchObject({
      profileArn: 'arn:aws:iam::123456789012:instance-profile/agentkeys-broker-host-test',
    });
    // On EC2 the daemon user does not send mail: no second SendEmail path.
    expect(await aws().getUserPolicy('agentkeys-daemon-test', 'agentkeys-daemon-test-send-email')).toBeUndefined();
    const again = await setup(files, '--to-step', '22');
    expect(again.out.calls.mutating).toBe(0);
  });

  it('off EC2 the daemon user gets the SendEmail grant; once INSTANCE_ID is set it moves to the instance profile', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true, withInstance: false });
    await setup(files, '--to-step', '16');
    const off = await setup(files, '--only-step', 'broker-host');
    expect(step(off.out, 'broker-host').status).toBe('done');
    const grant = JSON.parse((await aws().getUserPolicy('agentkeys-daemon-test', 'agentkeys-daemon-test-send-email'))!);
    expect(grant.Statement[0]).toMatchObject({ Sid: 'BrokerSendEmail', Action: 'ses:SendEmail' });
    const instance = await (
      await import('../../src/aws/sandbox-api.js')
    )
      .createSandboxAws({ region: 'us-east-1' })
      .runInstance();
    appendFileSync(files.broker, `\nINSTANCE_ID=${instance}\n`);
    const on = await setup(files, '--only-step', 'broker-host');
    expect(step(on.out, 'broker-host').changes.map((c) => c.resource)).toEqual([
      `instance profile agentkeys-broker-host-test → ${instance}`,
      'agentkeys-daemon-test/agentkeys-daemon-test-send-email',
    ]);
    expect(await aws().getUserPolicy('agentkeys-daemon-test', 'agentkeys-daemon-test-send-email')).toBeUndefined();
  });

  it('AUDIT_SIGNER_ROLES naming a role that does not exist is blocked, with the fix', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    appendFileSync(files.operator, '\nAUDIT_SIGNER_ROLES=agentkeys-broker-host-test,agent-manager-test\n');
    await setup(files, '--to-step', '20');
    const r = await setup(files, '--only-step', 'audit-signing-grant');
    expect(r.code).toBe(1);
    expect(step(r.out, 'audit-signing-grant')).toMatchObject({
      status: 'blocked',
      reason: expect.stringContaining('agent-manager-test, which does not exist'),
    });
    await iam().createRole({
      RoleName: 'agent-manager-test',
      AssumeRolePolicyDocument: '{"Version":"2012-10-17","Statement":[]}',
    });
    const ok = await setup(files, '--only-step', 'audit-signing-grant');
    expect(step(ok.out, 'audit-signing-grant').status, ok.stderr).toBe('done');
    expect((await policy('agent-manager-test', 'agentkeys-audit-sign-test')).Statement[0].Action).toContain('kms:Sign');
  });

  it('an HMAC audit key the alias already names is adopted, and its signers get GenerateMac/VerifyMac (issue 24)', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const kms = createKmsApi({ region: 'us-east-1' });
    const hmac = await kms.createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    await kms.createAlias('alias/agentkeys-audit-test', hmac.KeyId!);
    const up = await setup(files, '--to-step', '21');
    expect(up.code, up.stderr).toBe(0);
    for (const id of ['kms-audit-key', 'audit-signing-grant']) expect(step(up.out, id).status).toBe('done');
    expect((await policy('agentkeys-broker-host-test', 'agentkeys-audit-sign-test')).Statement[0]).toEqual({
      Effect: 'Allow',
      Action: ['kms:GenerateMac', 'kms:VerifyMac', 'kms:DescribeKey'],
      Resource: hmac.Arn,
    });
    const verify = await setup(files, '--only-step', 'kms-audit-key', '--verify');
    expect(verify.code, verify.stderr).toBe(0);
    // doctor agrees: the key and the grant (simulated with GenerateMac/VerifyMac) are fine.
    const doctor = await runCli(['--json', 'doctor', '--test'], { cwd: files.cwd, env: moto.current.env });
    const checks = (JSON.parse(doctor.stdout) as { checks: { id: string; status: string; detail: string }[] }).checks;
    expect(checks.find((c) => c.id === 'kms.audit-key')).toMatchObject({ status: expect.stringMatching(/ok|warn/) });
    expect(checks.find((c) => c.id === 'grants.audit-sign')).toMatchObject({
      status: 'ok',
      detail: expect.stringContaining('GenerateMac'),
    });
  });
});

describe('the security audit (seed 004 §7)', () => {
  it('lists over-broad grants in --plan, keeps them without a yes, removes them with --yes', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    await setup(files, '--to-step', '22');
    // What early deploys shipped: S3 full access on the broker's role, a wildcard inline grant.
    await iam().createPolicy({
      PolicyName: 'early-deploy-s3',
      PolicyDocument: JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }],
      }),
    });
    await iam().attachRolePolicy({ RoleName: 'agentkeys-broker-host-test', PolicyArn: S3_FULL });
    await aws().putUserPolicy(
      'agentkeys-daemon-test',
      'legacy-wide',
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }),
    );
    const plan = await setup(files, '--only-step', 'security-audit', '--plan');
    expect(plan.code).toBe(4);
    expect(step(plan.out, 'security-audit').changes).toEqual([
      { action: 'delete', resource: 'user agentkeys-daemon-test/legacy-wide', detail: 'over-broad: Action "s3:*"' },
      {
        action: 'delete',
        resource: `${S3_FULL} on role agentkeys-broker-host-test`,
        detail: 'over-broad: Action "s3:*"',
      },
    ]);
    const refused = await setup(files, '--only-step', 'security-audit');
    expect(refused.code).toBe(1);
    expect(step(refused.out, 'security-audit')).toMatchObject({
      status: 'failed',
      hint: expect.stringContaining('--yes'),
    });
    expect(await aws().listAttachedRolePolicies('agentkeys-broker-host-test')).toEqual([S3_FULL]);
    const yes = await setup(files, '--only-step', 'security-audit', '--yes');
    expect(step(yes.out, 'security-audit').status, yes.stderr).toBe('done');
    expect(await aws().listAttachedRolePolicies('agentkeys-broker-host-test')).toEqual([]);
    expect(await aws().listUserPolicies('agentkeys-daemon-test')).toEqual(['agentkeys-daemon-test-assume-role']);
  });

  it("audits the role on the instance's actual profile, whatever its name (an early deploy's)", async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    // Before agentkeys: the instance got a profile of another name, its role a wildcard grant.
    const api = aws();
    await api.createRole(
      'early-broker',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      }),
      'an early deploy',
    );
    await api.putRolePolicy(
      'early-broker',
      'wide',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }],
      }),
    );
    await api.createInstanceProfile('early-profile');
    await api.addRoleToInstanceProfile('early-profile', 'early-broker');
    await api.associateInstanceProfile(files.instanceId, 'early-profile');
    const plan = await setup(files, '--only-step', 'security-audit', '--plan');
    expect(step(plan.out, 'security-audit').changes).toEqual([
      {
        action: 'delete',
        resource: 'role early-broker/wide',
        detail: `over-broad: Action "kms:*" (the role on instance profile early-profile on ${files.instanceId})`,
      },
    ]);
    // Step 20 does not replace that profile; its hint points here.
    const host = await setup(files, '--only-step', 'broker-host', '--plan');
    expect(step(host.out, 'broker-host')).toMatchObject({
      status: 'blocked',
      hint: expect.stringContaining('security-audit'),
    });
  });
});
