// Every IAM and S3 document setup writes, in one place, rendered by phase (setup-steps.md
// weaknesses 6 and 17). `${aws:PrincipalTag/...}` must reach AWS literally, so those strings are
// built by concatenation, never inside a template literal.
import type { Stack } from './stack.js';

export type Phase = 'static' | 'federated';
type Statement = Record<string, unknown>;
export interface PolicyDoc {
  Version: '2012-10-17';
  Statement: Statement[];
}

const doc = (...statements: Statement[]): PolicyDoc => ({ Version: '2012-10-17', Statement: statements });
const ACTOR_TAG = '${aws:PrincipalTag/agentkeys_actor_omni}';
export const actorPrefix = (cls: string) => 'bots/' + ACTOR_TAG + '/' + cls + '/*';

export function roleArn(stack: Stack, role: string): string {
  return `arn:aws:iam::${stack.accountId}:role/${role}`;
}

/** SES may write inbound mail, for this account only (aws:SourceAccount against confused deputies). */
export function sesWriteStatement(stack: Stack): Statement {
  return {
    Sid: 'AllowSESWriteInbound',
    Effect: 'Allow',
    Principal: { Service: 'ses.amazonaws.com' },
    Action: 's3:PutObject',
    Resource: `arn:aws:s3:::${stack.mailBucket}/*`,
    Condition: { StringEquals: { 'aws:Referer': stack.accountId, 'aws:SourceAccount': stack.accountId } },
  };
}

/**
 * The mail bucket policy is one resource: SES write always; the data role's read once the role
 * exists (static phase), or only each actor's own prefix once federated.
 */
export function mailBucketPolicy(stack: Stack, phase: Phase, dataRoleExists: boolean): PolicyDoc {
  const ses = sesWriteStatement(stack);
  if (!dataRoleExists) return doc(ses);
  const principal = { AWS: roleArn(stack, stack.dataRole) };
  if (phase === 'static') {
    return doc(ses, {
      Sid: 'AllowDaemonRead',
      Effect: 'Allow',
      Principal: principal,
      Action: ['s3:GetObject', 's3:ListBucket'],
      Resource: [`arn:aws:s3:::${stack.mailBucket}`, `arn:aws:s3:::${stack.mailBucket}/*`],
    });
  }
  return doc(
    ses,
    {
      Sid: 'EmailRoleListOwnPrefix',
      Effect: 'Allow',
      Principal: principal,
      Action: 's3:ListBucket',
      Resource: `arn:aws:s3:::${stack.mailBucket}`,
      Condition: { StringLike: { 's3:prefix': actorPrefix('email') } },
    },
    {
      Sid: 'EmailRoleGetOwnObjects',
      Effect: 'Allow',
      Principal: principal,
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${stack.mailBucket}/` + actorPrefix('email'),
    },
  );
}

export function daemonAssumeRolePolicy(stack: Stack): PolicyDoc {
  return doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: roleArn(stack, stack.dataRole) });
}

export function dataRoleStaticTrust(stack: Stack): PolicyDoc {
  return doc({
    Effect: 'Allow',
    Principal: { AWS: `arn:aws:iam::${stack.accountId}:user/${stack.daemonUser}` },
    Action: 'sts:AssumeRole',
  });
}

export function dataRoleInline(stack: Stack): PolicyDoc {
  const identity = `arn:aws:ses:${stack.region}:${stack.accountId}:identity`;
  return doc(
    { Effect: 'Allow', Action: 's3:ListBucket', Resource: `arn:aws:s3:::${stack.mailBucket}` },
    { Effect: 'Allow', Action: 's3:GetObject', Resource: `arn:aws:s3:::${stack.mailBucket}/*` },
    {
      Effect: 'Allow',
      Action: ['ses:SendEmail', 'ses:GetEmailIdentity'],
      Resource: [`${identity}/${stack.mailDomain}`, `${identity}/*@${stack.mailDomain}`],
    },
  );
}

/** The helper scripts' federated trust: web identity with session tags, and the actor tag required. */
export function federatedTrust(stack: Stack): PolicyDoc {
  return doc({
    Effect: 'Allow',
    Principal: { Federated: stack.oidcProviderArn },
    Action: ['sts:AssumeRoleWithWebIdentity', 'sts:TagSession'],
    Condition: {
      StringEquals: { [`${stack.brokerHost}:aud`]: 'sts.amazonaws.com' },
      Null: { 'aws:RequestTag/agentkeys_actor_omni': 'false' },
    },
  });
}

/**
 * Class roles are created before the OIDC provider exists (it needs the broker serving TLS), and
 * IAM refuses a Federated principal for a provider that does not exist. Until the oidc step
 * swaps in the federated trust, the role trusts nobody.
 */
export function placeholderTrust(stack: Stack): PolicyDoc {
  return doc({
    Sid: 'AgentkeysAwaitingFederation',
    Effect: 'Deny',
    Principal: { AWS: `arn:aws:iam::${stack.accountId}:root` },
    Action: 'sts:AssumeRole',
  });
}

export function classRoleInline(dc: Stack['dataClasses'][number]): PolicyDoc {
  const prefix = actorPrefix(dc.prefixClass);
  return doc(
    {
      Sid: `${dc.sid}ListOwnPrefix`,
      Effect: 'Allow',
      Action: 's3:ListBucket',
      Resource: `arn:aws:s3:::${dc.bucket}`,
      Condition: { StringLike: { 's3:prefix': prefix } },
    },
    {
      Sid: `${dc.sid}GetOwnObjects`,
      Effect: 'Allow',
      Action: 's3:GetObject',
      Resource: `arn:aws:s3:::${dc.bucket}/` + prefix,
    },
    {
      Sid: `${dc.sid}PutAndDeleteOwnObjects`,
      Effect: 'Allow',
      Action: ['s3:PutObject', 's3:DeleteObject'],
      Resource: `arn:aws:s3:::${dc.bucket}/` + prefix,
    },
  );
}

/** v3: listing scoped on its own, so no tagged session can enumerate another actor's keys. */
export function classBucketPolicy(stack: Stack, dc: Stack['dataClasses'][number]): PolicyDoc {
  const prefix = actorPrefix(dc.prefixClass);
  const principal = { AWS: roleArn(stack, dc.role) };
  const tagged = { Null: { 'aws:PrincipalTag/agentkeys_actor_omni': 'false' } };
  return doc(
    {
      Sid: `${dc.sid}ListV3`,
      Effect: 'Allow',
      Principal: principal,
      Action: 's3:ListBucket',
      Resource: `arn:aws:s3:::${dc.bucket}`,
      Condition: { ...tagged, StringLike: { 's3:prefix': prefix } },
    },
    {
      Sid: `${dc.sid}ObjectsV3`,
      Effect: 'Allow',
      Principal: principal,
      Action: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      Resource: `arn:aws:s3:::${dc.bucket}/` + prefix,
      Condition: tagged,
    },
  );
}

export function sshUserPolicy(stack: Stack, instanceId: string): PolicyDoc {
  return doc(
    {
      Effect: 'Allow',
      Action: 'ec2-instance-connect:SendSSHPublicKey',
      Resource: `arn:aws:ec2:*:${stack.accountId}:instance/${instanceId}`,
      Condition: { StringEquals: { 'ec2:osuser': 'agentkey' } },
    },
    { Effect: 'Allow', Action: ['ec2:DescribeInstances', 'ec2:DescribeInstanceConnectEndpoints'], Resource: '*' },
  );
}

export const json = (d: PolicyDoc) => JSON.stringify(d);

/** Seed 002's minimum for the signing service, on exactly one key ARN (never `*`, never an alias). */
export function evmSignerPolicy(keyArn: string): PolicyDoc {
  return doc({ Effect: 'Allow', Action: ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'], Resource: keyArn });
}
