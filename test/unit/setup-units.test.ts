import { mkdtempSync, readFileSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { setEnvValue } from '../../src/config/env-writeback.js';
import { canonicalPolicy, samePolicy } from '../../src/setup/policy-compare.js';
import { classBucketPolicy, federatedTrust, mailBucketPolicy } from '../../src/setup/policies.js';
import { loadStack } from '../../src/config/stack.js';
import { selectSteps } from '../../src/steps/runner.js';
import { STEPS } from '../../src/setup/steps/index.js';

describe('stack names (one naming function, pinned for prod and test)', () => {
  it.each([false, true])('test=%s', async (test) => {
    const stack = await loadStack({ test, envDir: 'env' });
    const t = test ? '-test' : '';
    expect(stack).toMatchObject({
      name: test ? 'test' : 'prod',
      mailBucket: `agentkeys-mail${t}-429071895007`,
      daemonUser: `agentkeys-daemon${t}`,
      dataRole: `agentkeys-data-role${t}`,
      sshUser: `agentkeys-broker${t}`,
      eipTag: `agentkeys-broker-eip${t}`,
      receiptRule: `agentkeys-inbound${t}`,
      ruleSet: 'agentkeys',
      kmsAuditAlias: `alias/agentkeys-audit${t}`,
      brokerHost: test ? 'test-broker.litentry.org' : 'broker.litentry.org',
    });
    expect(stack.dataClasses.map((d) => [d.bucket, d.role])).toEqual(
      ['vault', 'memory', 'config'].map((c) => [`agentkeys-${c}${t}-429071895007`, `agentkeys-${c}-role${t}`]),
    );
    expect(stack.hosts).toContain(test ? 'test-mcp.litentry.org' : 'mcp.litentry.org');
    expect(stack.hosts).toContain(test ? 'classify-test.litentry.org' : 'classify.litentry.org');
  });
});

describe('policies', () => {
  it('keeps ${aws:PrincipalTag/…} literal and scopes listing on its own (v3)', async () => {
    const stack = await loadStack({ test: true, envDir: 'env' });
    const vault = classBucketPolicy(stack, stack.dataClasses[0]!);
    expect(vault.Statement[0]).toMatchObject({
      Sid: 'VaultListV3',
      Condition: { StringLike: { 's3:prefix': 'bots/${aws:PrincipalTag/agentkeys_actor_omni}/credentials/*' } },
    });
    expect(federatedTrust(stack).Statement[0]).toMatchObject({
      Condition: {
        StringEquals: { 'test-broker.litentry.org:aud': 'sts.amazonaws.com' },
        Null: { 'aws:RequestTag/agentkeys_actor_omni': 'false' },
      },
    });
    expect(mailBucketPolicy(stack, 'static', false).Statement.map((s) => s.Sid)).toEqual(['AllowSESWriteInbound']);
  });

  it('compares documents canonically: order, single values and URL encoding do not matter; content does', () => {
    const a = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: 'x' },
        { Effect: 'Deny', Action: 's3:*', Resource: ['y'] },
      ],
    };
    const b = {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Deny', Action: ['s3:*'], Resource: 'y' },
        { Effect: 'Allow', Action: ['s3:ListBucket', 's3:GetObject'], Resource: ['x'] },
      ],
    };
    expect(samePolicy(a, b)).toBe(true);
    expect(samePolicy(JSON.stringify(a), decodeURIComponent(encodeURIComponent(JSON.stringify(b))))).toBe(true);
    expect(samePolicy(a, { ...b, Statement: [b.Statement[0]] })).toBe(false);
    expect(canonicalPolicy(undefined)).toBeUndefined();
  });
});

describe('env write-back', () => {
  it('replaces the last KEY= line in place, keeps comments, other lines and the file mode', async () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'ak-')), 'broker.env');
    writeFileSync(file, '# header\nINSTANCE_ID=i-0123456789abcdef0\nEIP=\n# trailing comment\nOTHER=${INSTANCE_ID}\n');
    chmodSync(file, 0o640);
    expect(await setEnvValue(file, 'EIP', '3.214.219.209')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe(
      '# header\nINSTANCE_ID=i-0123456789abcdef0\nEIP=3.214.219.209\n# trailing comment\nOTHER=${INSTANCE_ID}\n',
    );
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(await setEnvValue(file, 'EIP', '3.214.219.209')).toBe(false);
    await setEnvValue(file, 'DATA_ROLE_ARN', 'arn:aws:iam::1:role/r');
    expect(readFileSync(file, 'utf8').endsWith('OTHER=${INSTANCE_ID}\nDATA_ROLE_ARN=arn:aws:iam::1:role/r\n')).toBe(
      true,
    );
  });
});

describe('step selection', () => {
  it('keeps upstream numbers, takes ids, and always includes the summary in range', () => {
    expect(STEPS.map((s) => s.num)).toEqual(Array.from({ length: 23 }, (_, i) => i + 1));
    expect(selectSteps(STEPS, { onlyStep: '4' }).map((s) => s.id)).toEqual(['eip']);
    expect(selectSteps(STEPS, { onlyStep: 'kms-audit-key' }).map((s) => s.num)).toEqual([15]);
    expect(selectSteps(STEPS, { fromStep: '14', toStep: '16' }).map((s) => s.id)).toEqual([
      'mail-policy',
      'kms-audit-key',
      'summary',
    ]);
    expect(() => selectSteps(STEPS, { onlyStep: 'nope' })).toThrow(expect.objectContaining({ code: 'UNKNOWN_STEP' }));
    expect(() => selectSteps(STEPS, { fromStep: '9', toStep: '3' })).toThrow(
      expect.objectContaining({ code: 'FLAG_CONFLICT' }),
    );
  });
});
