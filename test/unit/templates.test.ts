// Policy documents live in templates/iam and are rendered with the stack's values. The expected
// output (test/fixtures/policies/rendered.json) was produced by the policy literals the code held
// before the templates existed, so a template edit that changes a live policy fails here first.
import { readdirSync, readFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import * as P from '../../src/setup/policies.js';
import { loadStack, type Stack } from '../../src/config/stack.js';
import { placeholdersOf, renderJson, templatesDir } from '../../src/sys/templates.js';

const expected = JSON.parse(readFileSync('test/fixtures/policies/rendered.json', 'utf8')) as Record<string, unknown>;
const KEY_ARN = (s: Stack) => `arn:aws:kms:${s.region}:${s.accountId}:key/11111111-2222-3333-4444-555555555555`;

function renderAll(s: Stack): Record<string, unknown> {
  const out: Record<string, unknown> = {
    'mail-bucket-ses-only': P.mailBucketPolicy(s, 'static', false),
    'mail-bucket-static': P.mailBucketPolicy(s, 'static', true),
    'mail-bucket-federated': P.mailBucketPolicy(s, 'federated', true),
    'daemon-assume-role': P.daemonAssumeRolePolicy(s),
    'data-role-static-trust': P.dataRoleStaticTrust(s),
    'data-role-inline': P.dataRoleInline(s),
    'federated-trust': P.federatedTrust(s),
    'placeholder-trust': P.placeholderTrust(s),
    'ssh-user': P.sshUserPolicy(s, 'i-0123456789abcdef0'),
    'evm-signer': P.kmsSignerPolicy(KEY_ARN(s)),
    // Issue 21: written from the template, not from an older literal.
    'audit-signer': P.auditSignerPolicy(KEY_ARN(s), s.witness.bucket),
    // Issue 24: an HMAC audit key is granted GenerateMac and VerifyMac instead.
    'audit-signer-hmac': P.auditSignerPolicy(KEY_ARN(s), s.witness.bucket, 'GENERATE_VERIFY_MAC'),
    'broker-host-trust': P.brokerHostTrust(s),
    'broker-host-inline': P.brokerHostInline(s),
    'broker-send-email': P.brokerSendEmailPolicy(s),
    // Issue 27: the broker host's watches publish alerts and read the audit key's rotation state.
    'broker-watch': P.brokerWatchPolicy(s, KEY_ARN(s)),
  };
  for (const dc of s.dataClasses) {
    out[`class-role-inline/${dc.cls}`] = P.classRoleInline(s, dc);
    out[`class-bucket/${dc.cls}`] = P.classBucketPolicy(s, dc);
  }
  return Object.fromEntries(Object.entries(out).map(([k, v]) => [`${s.name}/${k}`, v]));
}

describe('policy templates', () => {
  it.each([false, true])('render to the expected documents (test=%s)', async (test) => {
    const stack = await loadStack({ test, envDir: 'env' });
    const rendered = renderAll(stack);
    for (const [name, doc] of Object.entries(rendered)) expect([name, doc]).toEqual([name, expected[name]]);
    expect(JSON.stringify(rendered)).not.toMatch(/\{\{/);
  });

  it('every template in templates/iam is rendered by the code (none orphaned)', () => {
    const files = readdirSync(path.join(templatesDir(), 'iam')).map((f) => f.replace(/\.json$/, ''));
    const used = new Set(Object.keys(expected).map((k) => k.split('/')[1]!.replace('evm-signer', 'kms-signer')));
    used.add('class-role-inline').add('class-bucket');
    used.add('sandbox-admin'); // the sandbox seed's admin (src/sandbox/seed.ts), no stack values
    expect(files.filter((f) => !used.has(f))).toEqual([]);
  });

  it('keeps ${aws:PrincipalTag/...} literal for AWS to evaluate', () => {
    expect(placeholdersOf('iam/class-bucket.json').sort()).toEqual([
      'accountId',
      'bucket',
      'prefixClass',
      'role',
      'sid',
    ]);
    expect(JSON.stringify(expected['test/class-bucket/vault'])).toContain('${aws:PrincipalTag/agentkeys_actor_omni}');
  });

  it('a missing value is a coded error, and a value cannot break out of its JSON string', () => {
    expect(() => renderJson('iam/kms-signer.json', {})).toThrow(
      expect.objectContaining({ code: 'TEMPLATE_VARIABLE_MISSING' }),
    );
    expect(() => renderJson('iam/nope.json', {})).toThrow(expect.objectContaining({ code: 'TEMPLATE_NOT_FOUND' }));
    const doc = renderJson<{ Statement: { Resource: string }[] }>('iam/kms-signer.json', { keyArn: '"},{"Action":"*' });
    expect(doc.Statement).toHaveLength(1);
    expect(doc.Statement[0]!.Resource).toBe('"},{"Action":"*');
  });
});
