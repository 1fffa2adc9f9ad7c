import * as path from 'node:path';
import { readEnvFile } from './env-file.js';
import { UsageError } from '../errors.js';

export type StackName = 'prod' | 'test';

/** Every name one stack owns, resolved once from its env files (env/operator-workstation*.env, env/broker*.env). */
export interface Stack {
  name: StackName;
  operatorEnvFile: string;
  brokerEnvFile: string;
  accountId: string;
  region: string;
  zone: string;
  parentZoneId: string;
  brokerHost: string;
  mailDomain: string;
  mailBucket: string;
  senderAddress: string;
  oidcIssuer: string;
  oidcProviderArn: string;
  instanceId?: string;
  eip?: string;
  /** DATA_ROLE_ARN as the operator env file has it now (step 11 writes it back). */
  dataRoleArnEnv?: string;
  eipTag: string;
  daemonUser: string;
  dataRole: string;
  sshUser: string;
  ruleSet: string;
  receiptRule: string;
  kmsAuditAlias: string;
  /** vault, memory, config: bucket and role per data class. */
  dataClasses: {
    cls: 'vault' | 'memory' | 'config';
    sid: 'Vault' | 'Memory' | 'Config';
    prefixClass: string;
    bucket: string;
    role: string;
  }[];
  /** A records pointing at the EIP. */
  hosts: string[];
  /** How to re-run setup for this stack, for hints (the sandbox names its own folder). */
  rerunCommand?: string;
  /** EVM_SIGNER=true: the optional secp256k1 signer of the Agentic Vault (step 18). */
  evmSigner?: { alias: string; role: string; policy: string };
  /** The broker host's runtime role and its instance profile, one name (step 20). */
  brokerHostRole: string;
  /**
   * The roles that sign audit events with the stack's audit key (step 21): the broker
   * host role, or AUDIT_SIGNER_ROLES (role names, comma-separated) where Agent Manager runs elsewhere.
   */
  auditSignerRoles: string[];
  /** The checkpoint witness (step 19): an Object Lock bucket, compliance mode, this many days. */
  witness: { bucket: string; retentionDays: number };
}

export interface StackOptions {
  test: boolean;
  envFile?: string;
  brokerEnvFile?: string;
  /** Where the default env files live (env/ of the project). */
  envDir: string;
  baseEnv?: Readonly<Record<string, string | undefined>>;
}

const REQUIRED = [
  'ACCOUNT_ID',
  'REGION',
  'ZONE',
  'PARENT_ZONE_ID',
  'BROKER_HOST',
  'MAIL_DOMAIN',
  'VAULT_ROLE_ARN',
  'MEMORY_ROLE_ARN',
  'CONFIG_ROLE_ARN',
  'VAULT_BUCKET',
  'MEMORY_BUCKET',
  'CONFIG_BUCKET',
  'SIGNER_HOST',
  'MCP_HOST',
] as const;
const WORKERS = ['AUDIT', 'EMAIL', 'CRED', 'MEMORY', 'CONFIG', 'CLASSIFY'] as const;

/**
 * Test mode comes only from --test, never from a path. The files default to
 * env/operator-workstation[.test].env and env/broker[.test].env. Every problem is listed at once.
 */
export async function loadStack(opts: StackOptions): Promise<Stack> {
  const suffix = opts.test ? '.test' : '';
  const operatorEnvFile = opts.envFile ?? path.join(opts.envDir, `operator-workstation${suffix}.env`);
  const brokerEnvFile = opts.brokerEnvFile ?? path.join(opts.envDir, `broker${suffix}.env`);
  const op = await readEnvFile(operatorEnvFile, opts.baseEnv ?? {}, '--env-file');
  const broker = await readEnvFile(brokerEnvFile, { ...opts.baseEnv, ...op }, '--broker-env-file');
  const problems = envProblems(op, broker, operatorEnvFile, brokerEnvFile);
  if (problems.length > 0) throw invalid(problems);
  const t = opts.test ? '-test' : '';
  const roleName = (key: string) => op[key]!.split('/').pop()!;
  const mailBucket = op.BUCKET ?? op.MAIL_BUCKET ?? `agentkeys-mail${t}-${op.ACCOUNT_ID}`;
  const stack: Stack = {
    name: opts.test ? 'test' : 'prod',
    operatorEnvFile,
    brokerEnvFile,
    accountId: op.ACCOUNT_ID!,
    region: op.REGION!,
    zone: op.ZONE!.replace(/\.$/, ''),
    parentZoneId: op.PARENT_ZONE_ID!,
    brokerHost: op.BROKER_HOST!,
    mailDomain: op.MAIL_DOMAIN!,
    mailBucket,
    senderAddress: op.BROKER_EMAIL_FROM_ADDRESS ?? `noreply${t}@${op.MAIL_DOMAIN}`,
    oidcIssuer: op.OIDC_ISSUER ?? `https://${op.BROKER_HOST}`,
    oidcProviderArn: op.OIDC_PROVIDER_ARN ?? `arn:aws:iam::${op.ACCOUNT_ID}:oidc-provider/${op.BROKER_HOST}`,
    ...(broker.INSTANCE_ID ? { instanceId: broker.INSTANCE_ID } : {}),
    ...(broker.EIP ? { eip: broker.EIP } : {}),
    ...(op.DATA_ROLE_ARN ? { dataRoleArnEnv: op.DATA_ROLE_ARN } : {}),
    eipTag: `agentkeys-broker-eip${t}`,
    daemonUser: `agentkeys-daemon${t}`,
    dataRole: `agentkeys-data-role${t}`,
    sshUser: `agentkeys-broker${t}`,
    ruleSet: 'agentkeys',
    receiptRule: `agentkeys-inbound${t}`,
    kmsAuditAlias: `alias/agentkeys-audit${t}`,
    dataClasses: [
      {
        cls: 'vault',
        sid: 'Vault',
        prefixClass: 'credentials',
        bucket: op.VAULT_BUCKET!,
        role: roleName('VAULT_ROLE_ARN'),
      },
      {
        cls: 'memory',
        sid: 'Memory',
        prefixClass: 'memory',
        bucket: op.MEMORY_BUCKET!,
        role: roleName('MEMORY_ROLE_ARN'),
      },
      {
        cls: 'config',
        sid: 'Config',
        prefixClass: 'config',
        bucket: op.CONFIG_BUCKET!,
        role: roleName('CONFIG_ROLE_ARN'),
      },
    ],
    hosts: [op.BROKER_HOST!, op.SIGNER_HOST!, op.MCP_HOST!, ...WORKERS.map((w) => op[`WORKER_${w}_HOST`]!)],
    brokerHostRole: `agentkeys-broker-host${t}`,
    auditSignerRoles: op.AUDIT_SIGNER_ROLES
      ? op.AUDIT_SIGNER_ROLES.split(',')
          .map((r) => r.trim())
          .filter((r) => r !== '')
      : [`agentkeys-broker-host${t}`],
    witness: {
      bucket: op.WITNESS_BUCKET ?? `agentkeys-witness${t}-${op.ACCOUNT_ID}`,
      retentionDays: Number(op.WITNESS_RETENTION_DAYS ?? 365),
    },
    ...(evmSignerEnabled(op, operatorEnvFile)
      ? {
          evmSigner: {
            alias: op.EVM_SIGNER_ALIAS ?? `alias/agentkeys-evm${t}`,
            role: `agentkeys-evm-signer${t}`,
            policy: `agentkeys-evm-signer${t}-kms`,
          },
        }
      : {}),
  };
  checkStackNames(stack);
  return stack;
}

/** Everything wrong with the two env files, listed at once. */
function envProblems(
  op: Record<string, string>,
  broker: Record<string, string>,
  operatorEnvFile: string,
  brokerEnvFile: string,
): string[] {
  const problems: string[] = [];
  for (const key of REQUIRED) if (!op[key]) problems.push(`${operatorEnvFile}: ${key} is required`);
  for (const w of WORKERS)
    if (!op[`WORKER_${w}_HOST`]) problems.push(`${operatorEnvFile}: WORKER_${w}_HOST is required`);
  if (op.ACCOUNT_ID && !/^\d{12}$/.test(op.ACCOUNT_ID))
    problems.push(`${operatorEnvFile}: ACCOUNT_ID "${op.ACCOUNT_ID}" is not 12 digits`);
  if (broker.ACCOUNT_ID && op.ACCOUNT_ID && broker.ACCOUNT_ID !== op.ACCOUNT_ID)
    problems.push(
      `${brokerEnvFile}: ACCOUNT_ID ${broker.ACCOUNT_ID} differs from ${operatorEnvFile} (${op.ACCOUNT_ID})`,
    );
  if (broker.INSTANCE_ID && !/^i-[0-9a-f]{8,17}$/.test(broker.INSTANCE_ID))
    problems.push(`${brokerEnvFile}: INSTANCE_ID "${broker.INSTANCE_ID}" is not an EC2 instance id`);
  const retention = op.WITNESS_RETENTION_DAYS ?? '365';
  if (!/^[1-9]\d{0,4}$/.test(retention))
    problems.push(`${operatorEnvFile}: WITNESS_RETENTION_DAYS "${retention}" is not a number of days (1-99999)`);
  for (const role of (op.AUDIT_SIGNER_ROLES ?? '').split(',').filter((r) => r.trim() !== ''))
    if (!/^[\w+=,.@-]{1,64}$/.test(role.trim()))
      problems.push(`${operatorEnvFile}: AUDIT_SIGNER_ROLES names "${role.trim()}", which is not an IAM role name`);
  if (broker.EIP && !/^\d{1,3}(\.\d{1,3}){3}$/.test(broker.EIP))
    problems.push(`${brokerEnvFile}: EIP "${broker.EIP}" is not an IPv4 address`);
  return problems;
}

/**
 * The guard against the 2026-05-23 incident: a test run must never name a prod resource. Every
 * name a test stack owns must say "test"; every host must sit in the zone; no prod name may say test.
 */
export function checkStackNames(stack: Stack): void {
  const problems: string[] = [];
  const evm = stack.evmSigner ? [stack.evmSigner.alias, stack.evmSigner.role] : [];
  const owned = [
    stack.mailBucket,
    stack.mailDomain,
    stack.brokerHost,
    ...stack.dataClasses.flatMap((d) => [d.bucket, d.role]),
    ...stack.hosts,
    ...evm,
    stack.witness.bucket,
    stack.brokerHostRole,
    ...stack.auditSignerRoles,
  ];
  if (stack.name === 'test') {
    for (const name of owned)
      if (!/test/i.test(name)) problems.push(`--test, but ${name} (from ${stack.operatorEnvFile}) is not a test name`);
  } else {
    for (const name of [
      stack.mailBucket,
      ...stack.dataClasses.flatMap((d) => [d.bucket, d.role]),
      ...evm,
      stack.witness.bucket,
      ...stack.auditSignerRoles,
    ]) {
      if (/-test\b/.test(name)) problems.push(`prod stack, but ${name} is a test name: did you mean --test?`);
    }
  }
  for (const host of stack.hosts)
    if (!host.endsWith(`.${stack.zone}`)) problems.push(`${host} is not inside zone ${stack.zone}`);
  if (problems.length > 0) throw invalid(problems);
}

function evmSignerEnabled(op: Record<string, string>, file: string): boolean {
  const v = op.EVM_SIGNER;
  if (v === undefined || v === '' || /^(false|0|no)$/i.test(v)) return false;
  if (/^(true|1|yes)$/i.test(v)) return true;
  throw invalid([`${file}: EVM_SIGNER "${v}" is not true or false`]);
}

function invalid(problems: string[]): UsageError {
  return new UsageError({
    code: 'STACK_CONFIG_INVALID',
    message: `the stack's env files have ${problems.length} problem(s)`,
    details: problems,
    hint: 'fix the env files (see env/*.env for documented examples)',
  });
}
