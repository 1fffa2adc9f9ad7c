// Every IAM and S3 document setup writes, rendered from templates/iam/*.json with the stack's
// values. The code keeps no policy literals: it only chooses
// the template and supplies the values. `${aws:PrincipalTag/...}` sits literally in the templates.
import { renderJson, type TemplateVars } from '../sys/templates.js';
import type { Stack } from '../config/stack.js';

export type Phase = 'static' | 'federated';
type Statement = Record<string, unknown>;
export interface PolicyDoc {
  Version: '2012-10-17';
  Statement: Statement[];
}
type DataClass = Stack['dataClasses'][number];

const render = (name: string, vars: TemplateVars): PolicyDoc => renderJson<PolicyDoc>(`iam/${name}.json`, vars);

/** The values every template may use, from the stack. */
export function stackVars(stack: Stack): TemplateVars {
  return {
    accountId: stack.accountId,
    region: stack.region,
    mailBucket: stack.mailBucket,
    mailDomain: stack.mailDomain,
    senderAddress: stack.senderAddress,
    dataRole: stack.dataRole,
    daemonUser: stack.daemonUser,
    brokerHost: stack.brokerHost,
    oidcProviderArn: stack.oidcProviderArn,
  };
}

const classVars = (stack: Stack, dc: DataClass): TemplateVars => ({
  ...stackVars(stack),
  sid: dc.sid,
  bucket: dc.bucket,
  role: dc.role,
  prefixClass: dc.prefixClass,
});

export function roleArn(stack: Stack, role: string): string {
  return `arn:aws:iam::${stack.accountId}:role/${role}`;
}

/**
 * The mail bucket policy is one resource: SES write always (for this account only, against
 * confused deputies); the data role's read once the role exists (static phase), or only each
 * actor's own prefix once federated.
 */
export function mailBucketPolicy(stack: Stack, phase: Phase, dataRoleExists: boolean): PolicyDoc {
  return render(dataRoleExists ? `mail-bucket-${phase}` : 'mail-bucket-ses-only', stackVars(stack));
}

export const daemonAssumeRolePolicy = (stack: Stack) => render('daemon-assume-role', stackVars(stack));
export const dataRoleStaticTrust = (stack: Stack) => render('data-role-static-trust', stackVars(stack));
export const dataRoleInline = (stack: Stack) => render('data-role-inline', stackVars(stack));

/** The helper scripts' federated trust: web identity with session tags, and the actor tag required. */
export const federatedTrust = (stack: Stack) => render('federated-trust', stackVars(stack));

/**
 * Class roles are created before the OIDC provider exists (it needs the broker serving TLS), and
 * IAM refuses a Federated principal for a provider that does not exist. Until the oidc step
 * swaps in the federated trust, the role trusts nobody.
 */
export const placeholderTrust = (stack: Stack) => render('placeholder-trust', stackVars(stack));

export const classRoleInline = (stack: Stack, dc: DataClass) => render('class-role-inline', classVars(stack, dc));

/** v3: listing scoped on its own, so no tagged session can enumerate another actor's keys. */
export const classBucketPolicy = (stack: Stack, dc: DataClass) => render('class-bucket', classVars(stack, dc));

export const sshUserPolicy = (stack: Stack, instanceId: string) =>
  render('ssh-user', { ...stackVars(stack), instanceId });

/** The broker host's instance role: EC2 may assume it. */
export const brokerHostTrust = (stack: Stack) => render('broker-host-trust', stackVars(stack));

/** The broker's runtime grants: assume the data role, and SES v2 SendEmail from the sender only (§6.1). */
export const brokerHostInline = (stack: Stack) => render('broker-host-inline', stackVars(stack));

/** §6.1 off EC2: the same SendEmail grant on the daemon user, the broker's runtime identity there. */
export const brokerSendEmailPolicy = (stack: Stack) => render('broker-send-email', stackVars(stack));

/**
 * Seeds 000 §4 and 002: the minimum a signer needs (kms:Sign, kms:GetPublicKey, kms:DescribeKey) on
 * exactly one key ARN, never `*`, never an alias.
 */
export const kmsSignerPolicy = (keyArn: string) => render('kms-signer', { keyArn });

/**
 * The audit signers (step 21): kmsSignerPolicy's three actions on the audit key, and on the witness
 * bucket (issue 21) PutObject to write each checkpoint once and reads to prove the log against it;
 * no delete, no version delete, no retention or lock change: what is witnessed stays.
 */
export const auditSignerPolicy = (keyArn: string, witnessBucket: string, keyUsage?: string) =>
  // An HMAC audit key (one the alias already named, adopted by step 15) signs with GenerateMac
  // and is checked with VerifyMac: the same grant, with those actions.
  render(keyUsage === 'GENERATE_VERIFY_MAC' ? 'audit-signer-hmac' : 'audit-signer', { keyArn, witnessBucket });

/** The broker host's watches: publish their alerts, and read the audit key's rotation state. */
export const brokerWatchPolicy = (stack: Stack, keyArn: string) =>
  render('broker-watch', { topicArn: stack.alerts.topicArn, keyArn });

/** What the audit signers must not hold on the witness bucket (doctor simulates each). */
export const WITNESS_FORBIDDEN_ACTIONS = [
  's3:DeleteObject',
  's3:DeleteObjectVersion',
  's3:PutObjectRetention',
  's3:BypassGovernanceRetention',
  's3:PutBucketObjectLockConfiguration',
  's3:PutBucketVersioning',
  's3:PutLifecycleConfiguration',
];

export const json = (d: PolicyDoc) => JSON.stringify(d);
