// What seed 004 §7 calls over-broad, on documents directly.
import { describe, expect, it } from 'vitest';
import { broadByName, broadReason, broadReasons } from '../../src/setup/security-audit.js';
import * as P from '../../src/setup/policies.js';
import { loadStack } from '../../src/config/stack.js';

describe('over-broad grants', () => {
  it.each([
    [{ Effect: 'Allow', Action: '*', Resource: '*' }, 'Action "*"'],
    [{ Effect: 'Allow', Action: ['s3:GetObject', 'kms:*'], Resource: 'arn:aws:kms:*:1:key/x' }, 'Action "kms:*"'],
    [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }, 'Resource "*" for s3:GetObject'],
    [{ Effect: 'Allow', NotAction: 'iam:*', Resource: '*' }, 'Allow with NotAction (everything but a list)'],
    [{ Effect: 'Allow', Action: 's3:GetObject', NotResource: 'arn:aws:s3:::a/*' }, 'Allow with NotResource'],
    [{ Effect: 'Allow', Action: ['kms:ListAliases', 'kms:Sign'], Resource: '*' }, 'Resource "*" for kms:Sign'],
  ])('%j is over-broad: %s', (statement, reason) => expect(broadReason(statement)).toBe(reason));

  it.each([
    { Effect: 'Deny', Action: '*', Resource: '*' },
    { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'sts:GetCallerIdentity'], Resource: '*' },
    { Effect: 'Allow', Action: 'kms:ListAliases', Resource: '*' }, // no resource level in IAM (the rotation watch)
    { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::bucket/*' },
  ])('%j is not', (statement) => expect(broadReason(statement)).toBeUndefined());

  it('AWS managed full-access policies are broad by name; a broken document says so', () => {
    expect(broadByName('arn:aws:iam::aws:policy/AmazonS3FullAccess')).toMatch(/full access/);
    expect(broadByName('arn:aws:iam::aws:policy/AdministratorAccess')).toBeDefined();
    expect(broadByName('arn:aws:iam::aws:policy/ReadOnlyAccess')).toBeUndefined();
    expect(broadReasons('{nope')).toEqual(['the document is not JSON']);
  });

  it('every policy agentkeys writes passes its own audit', async () => {
    const s = await loadStack({ test: true, envDir: 'env' });
    const docs = [
      P.daemonAssumeRolePolicy(s),
      P.dataRoleInline(s),
      P.sshUserPolicy(s, 'i-0123456789abcdef0'),
      P.brokerHostInline(s),
      P.brokerSendEmailPolicy(s),
      P.kmsSignerPolicy('arn:aws:kms:us-east-1:1:key/k'),
      ...s.dataClasses.map((dc) => P.classRoleInline(s, dc)),
    ];
    expect(docs.flatMap((d) => broadReasons(JSON.stringify(d)))).toEqual([]);
  });
});
