import type { Decision } from '../../aws/iam.js';
import { describeKeyIfExists } from '../../signing/kms-keys.js';
import { roleArn, WITNESS_FORBIDDEN_ACTIONS } from '../../setup/policies.js';
import { findBroadGrants } from '../../setup/steps/22-security-audit.js';
import {
  fail,
  measured,
  ok,
  setupFix,
  skip,
  stackOf,
  warn,
  type DoctorCheck,
  type DoctorContext,
  type Metric,
} from '../check.js';

export const stackCheck: DoctorCheck = {
  id: 'stack',
  group: 'aws',
  title: "The stack's env files",
  async run(ctx) {
    if (ctx.stackError)
      return fail(
        [ctx.stackError.message, ...ctx.stackError.details].join('; '),
        ctx.stackError.hint ?? 'fix the env files',
      );
    const { stack } = stackOf(ctx);
    return ok(`${stack.name} stack: account ${stack.accountId}, ${stack.region}, broker ${stack.brokerHost}`);
  },
};

export const credentialsCheck: DoctorCheck = {
  id: 'aws.credentials',
  group: 'aws',
  title: 'Credentials and caller',
  needs: ['stack'],
  async run(ctx) {
    ctx.caller = await stackOf(ctx).aws.callerIdentity();
    return ok(`${ctx.caller.arn}`);
  },
};

export const accountCheck: DoctorCheck = {
  id: 'aws.account',
  group: 'aws',
  title: "The caller is in the stack's account",
  needs: ['aws.credentials'],
  async run(ctx) {
    const { stack } = stackOf(ctx);
    if (ctx.caller!.account !== stack.accountId)
      return fail(
        `the caller is in account ${ctx.caller!.account}; ${stack.operatorEnvFile} says ${stack.accountId}`,
        `use credentials for ${stack.accountId}: AWS_PROFILE=<profile> agentkeys doctor`,
      );
    return ok(`account ${stack.accountId}`);
  },
};

// What setup and signing ask of the operator's own identity (a sample of each service's writes).
const OPERATOR_ACTIONS = [
  'sts:GetCallerIdentity',
  'iam:CreateRole',
  'iam:PutRolePolicy',
  'iam:CreateUser',
  'iam:CreateInstanceProfile',
  'iam:PassRole',
  'iam:CreateOpenIDConnectProvider',
  'iam:SimulatePrincipalPolicy',
  'kms:CreateKey',
  'kms:CreateAlias',
  'kms:Sign',
  'kms:GetPublicKey',
  's3:CreateBucket',
  's3:PutBucketPolicy',
  'route53:ChangeResourceRecordSets',
  'route53:TestDNSAnswer',
  'ses:CreateEmailIdentity',
  'ec2:AllocateAddress',
  'ec2:AssociateIamInstanceProfile',
];

/** The IAM principal behind a caller ARN: an assumed-role session is its role. */
export function principalOf(arn: string): string | undefined {
  const assumed = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\//.exec(arn);
  if (assumed) return `arn:${assumed[1]}:iam::${assumed[2]}:role/${assumed[3]}`;
  return /^arn:aws[a-z-]*:iam::\d{12}:(user|role)\//.test(arn) ? arn : undefined;
}

const denied = (ds: Decision[]) => ds.filter((d) => d.decision !== 'allowed');
const list = (ds: Decision[]) =>
  ds.map((d) => (d.resource === '*' ? d.action : `${d.action} on ${d.resource}`)).join(', ');

export const callerPermissionsCheck: DoctorCheck = {
  id: 'iam.caller',
  group: 'permissions',
  title: 'The caller may run setup and sign (iam:SimulatePrincipalPolicy)',
  needs: ['aws.account'],
  async run(ctx) {
    const principal = principalOf(ctx.caller!.arn);
    if (!principal) return skip(`${ctx.caller!.arn} is not an IAM user or role (root or federated)`);
    const missing = denied(await stackOf(ctx).aws.simulatePrincipalPolicy(principal, OPERATOR_ACTIONS, ['*']));
    if (missing.length > 0)
      return fail(
        `${principal} may not: ${list(missing)}`,
        `grant those actions to ${principal.split('/').pop()} (an administrator's policy; setup needs them)`,
      );
    return ok(`${OPERATOR_ACTIONS.length} setup and signing actions allowed for ${principal}`);
  },
};

/**
 * One runtime principal's needs, simulated on the exact resources. `context`: the condition keys
 * the real request carries (IAM's simulator denies a conditioned grant when its key is missing).
 */
async function simulateGrant(
  ctx: DoctorContext,
  principal: string,
  actions: string[],
  resource: string,
  context?: Record<string, string>,
): Promise<Decision[]> {
  return denied(
    await stackOf(ctx).aws.simulatePrincipalPolicy(principal, actions, [resource], context ? { context } : {}),
  );
}

const SIGNER_ACTIONS = ['kms:Sign', 'kms:GetPublicKey', 'kms:DescribeKey'];
/** An HMAC audit key signs with GenerateMac and is checked with VerifyMac. */
const MAC_SIGNER_ACTIONS = ['kms:GenerateMac', 'kms:VerifyMac', 'kms:DescribeKey'];

export const brokerGrantsCheck: DoctorCheck = {
  id: 'grants.broker-host',
  group: 'permissions',
  title: "The broker's runtime role: assume the data role, SendEmail, on its instance",
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const role = stack.brokerHostRole;
    const fix = setupFix(ctx, 'broker-host');
    if (!(await aws.getRole(role))) return fail(`role ${role} does not exist`, fix);
    const arn = roleArn(stack, role);
    const identity = `arn:aws:ses:${stack.region}:${stack.accountId}:identity/${stack.mailDomain}`;
    const missing = [
      ...(await simulateGrant(ctx, arn, ['sts:AssumeRole'], roleArn(stack, stack.dataRole))),
      // The grant holds for the stack's sender only (ses:FromAddress), as the broker sends.
      ...(await simulateGrant(ctx, arn, ['ses:SendEmail'], identity, { 'ses:FromAddress': stack.senderAddress })),
    ];
    if (missing.length > 0) return fail(`${role} may not: ${list(missing)}`, fix);
    if (!stack.instanceId) return warn(`${role} is ready but no INSTANCE_ID is set to attach it to`, fix);
    const association = await aws.describeProfileAssociation(stack.instanceId);
    if (!association?.profileArn.endsWith(`/${role}`))
      return fail(`${stack.instanceId} runs with ${association ? association.profileArn : 'no instance profile'}`, fix);
    return ok(`${role} on ${stack.instanceId}: sts:AssumeRole ${stack.dataRole}, ses:SendEmail`);
  },
};

export const auditGrantCheck: DoctorCheck = {
  id: 'grants.audit-sign',
  group: 'permissions',
  title: 'The audit signers may Sign with the audit key (and only it)',
  needs: ['aws.account', 'kms.audit-key'],
  async run(ctx) {
    const { stack, kms } = stackOf(ctx);
    const key = (await describeKeyIfExists(kms, stack.kmsAuditAlias))!;
    const problems: string[] = [];
    for (const role of stack.auditSignerRoles) {
      const actions = key.KeyUsage === 'GENERATE_VERIFY_MAC' ? MAC_SIGNER_ACTIONS : SIGNER_ACTIONS;
      const missing = await simulateGrant(ctx, roleArn(stack, role), actions, key.Arn!);
      if (missing.length > 0) problems.push(`${role} may not ${missing.map((d) => d.action).join(', ')}`);
    }
    if (problems.length > 0) return fail(`${problems.join('; ')} on ${key.Arn}`, setupFix(ctx, 'audit-signing-grant'));
    const granted = key.KeyUsage === 'GENERATE_VERIFY_MAC' ? 'GenerateMac, VerifyMac' : 'kms:Sign, GetPublicKey';
    return ok(`${stack.auditSignerRoles.join(', ')}: ${granted}, DescribeKey on ${key.Arn}`);
  },
};

const WITNESS_OBJECT_ACTIONS = WITNESS_FORBIDDEN_ACTIONS.filter((a) => !a.startsWith('s3:PutBucket'));
const WITNESS_BUCKET_ACTIONS = WITNESS_FORBIDDEN_ACTIONS.filter((a) => a.startsWith('s3:PutBucket'));

/**
 * Issue 21: the witness holds only if nothing the signers hold can undo it. The bucket keeps every
 * version under compliance-mode Object Lock, and each audit signer may PutObject there but not
 * delete a version, change a retention or switch the lock or versioning off.
 */
export const witnessCheck: DoctorCheck = {
  id: 'witness',
  group: 'permissions',
  title: 'The checkpoint witness: locked in compliance mode; the signers write once, never delete',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const bucket = stack.witness.bucket;
    if ((await aws.headBucket(bucket)) !== 'exists')
      return fail(`bucket ${bucket} does not exist`, setupFix(ctx, 'witness-bucket'));
    const lock = await aws.getObjectLock(bucket);
    if (lock?.mode !== 'COMPLIANCE')
      return fail(
        `${bucket} has ${lock ? `Object Lock without a compliance-mode default` : 'no Object Lock'}: ` +
          'what it witnesses could be deleted',
        setupFix(ctx, 'witness-bucket'),
      );
    const problems: string[] = [];
    for (const role of stack.auditSignerRoles) {
      const arn = roleArn(stack, role);
      const object = `arn:aws:s3:::${bucket}/probe.checkpoint`;
      const cannot = await simulateGrant(ctx, arn, ['s3:PutObject'], object);
      if (cannot.length > 0) problems.push(`${role} may not s3:PutObject`);
      const decisions = [
        ...(await aws.simulatePrincipalPolicy(arn, WITNESS_OBJECT_ACTIONS, [object])),
        ...(await aws.simulatePrincipalPolicy(arn, WITNESS_BUCKET_ACTIONS, [`arn:aws:s3:::${bucket}`])),
      ];
      const allowed = decisions.filter((d) => d.decision === 'allowed').map((d) => d.action);
      if (allowed.length > 0) problems.push(`${role} may ${allowed.join(', ')}`);
    }
    if (problems.length > 0) return fail(`${problems.join('; ')} on ${bucket}`, setupFix(ctx, 'audit-signing-grant'));
    return ok(
      `${bucket}: compliance mode, ${lock.days ?? '?'} days; ` +
        `${stack.auditSignerRoles.join(', ')} write once, never delete`,
    );
  },
};

export const evmGrantCheck: DoctorCheck = {
  id: 'grants.evm-signer',
  group: 'permissions',
  title: 'The EVM signer role may Sign with its secp256k1 key',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, kms, aws } = stackOf(ctx);
    if (!stack.evmSigner) return skip('EVM_SIGNER is not enabled');
    const fix = setupFix(ctx, 'evm-signer');
    const key = await describeKeyIfExists(kms, stack.evmSigner.alias);
    if (!key) return fail(`${stack.evmSigner.alias} does not exist`, fix);
    if (key.KeyState !== 'Enabled') return fail(`${stack.evmSigner.alias} is ${key.KeyState}`, enableKeyFix(key.Arn!));
    if (!(await aws.getRole(stack.evmSigner.role))) return fail(`role ${stack.evmSigner.role} does not exist`, fix);
    const missing = await simulateGrant(ctx, roleArn(stack, stack.evmSigner.role), SIGNER_ACTIONS, key.Arn!);
    if (missing.length > 0) return fail(`${stack.evmSigner.role} may not: ${list(missing)}`, fix);
    return ok(`${stack.evmSigner.role} may sign with ${key.Arn} (${key.KeySpec})`);
  },
};

export const daemonGrantCheck: DoctorCheck = {
  id: 'grants.daemon',
  group: 'permissions',
  title: 'The daemon user may assume the data role',
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const user = await aws.getUser(stack.daemonUser);
    if (!user) return fail(`user ${stack.daemonUser} does not exist`, setupFix(ctx, 'daemon-user'));
    const missing = await simulateGrant(ctx, user.arn, ['sts:AssumeRole'], roleArn(stack, stack.dataRole));
    if (missing.length > 0) return fail(`${stack.daemonUser} may not: ${list(missing)}`, setupFix(ctx, 'daemon-user'));
    return ok(`${stack.daemonUser} → ${stack.dataRole}`);
  },
};

/** CIS AWS Foundations 1.14: access keys are rotated every 90 days or less. */
export const ACCESS_KEY_MAX_AGE_DAYS = 90;

/**
 * The long-lived keys setup mints (the daemon user's, the SSH user's): their age against CIS's 90
 * days. An inactive key is counted too: it can be switched back on.
 */
export const accessKeyAgeCheck: DoctorCheck = {
  id: 'iam.access-key-age',
  group: 'permissions',
  title: `The daemon and SSH users' access keys are younger than ${ACCESS_KEY_MAX_AGE_DAYS} days (CIS 1.14)`,
  needs: ['aws.account'],
  async run(ctx) {
    const { stack, aws } = stackOf(ctx);
    const old: string[] = [];
    const seen: string[] = [];
    const ages: Metric[] = [];
    for (const user of [stack.daemonUser, stack.sshUser]) {
      if (!(await aws.getUser(user))) continue;
      for (const key of await aws.listAccessKeys(user)) {
        const days = key.createdAt ? Math.floor((ctx.now.getTime() - Date.parse(key.createdAt)) / 86_400_000) : 0;
        const line = `${user} ${key.id.slice(0, 8)}… ${days} days${key.status === 'Active' ? '' : ` (${key.status})`}`;
        seen.push(line);
        const seconds = key.createdAt ? Math.floor((ctx.now.getTime() - Date.parse(key.createdAt)) / 1000) : 0;
        ages.push({ name: 'agentkeys_access_key_age_seconds', labels: { user, key: key.id }, value: seconds });
        if (days >= ACCESS_KEY_MAX_AGE_DAYS) old.push(line);
      }
    }
    if (old.length > 0)
      return measured(
        warn(
          `older than ${ACCESS_KEY_MAX_AGE_DAYS} days: ${old.join('; ')}`,
          `${setupFix(ctx, 'daemon-user', ' --rotate-access-keys')} && ` +
            setupFix(ctx, 'ssh-user', ' --rotate-access-keys'),
        ),
        ages,
      );
    return measured(ok(seen.length > 0 ? seen.join('; ') : 'no access keys'), ages);
  },
};

export const leastPrivilegeCheck: DoctorCheck = {
  id: 'grants.least-privilege',
  group: 'permissions',
  title: 'No agentkeys principal holds a wildcard or full-access policy',
  needs: ['aws.account'],
  async run(ctx) {
    const grants = await findBroadGrants(stackOf(ctx));
    if (grants.length === 0) return ok('no over-broad grants');
    return fail(
      grants.map((g) => `${g.principal.name}: ${g.policy.split('/').pop()} (${g.reasons.join('; ')})`).join('; '),
      setupFix(ctx, 'security-audit', ' --yes'),
    );
  },
};

export function enableKeyFix(arn: string): string {
  return `aws kms enable-key --key-id ${arn}`;
}
