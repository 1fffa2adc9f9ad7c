import * as path from 'node:path';
import type { BrokerEnvValues, OperatorEnvValues } from './stack-schema.js';
import { WORKERS } from './stack-workers.js';
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
  /** The alert topic (step 23) the broker host's watches publish to; ALERT_EMAIL is subscribed. */
  alerts: { topicName: string; topicArn: string; email?: string };
}

export interface StackOptions {
  test: boolean;
  envFile?: string;
  brokerEnvFile?: string;
  /** Where the default env files live (env/ of the project). */
  envDir: string;
  baseEnv?: Readonly<Record<string, string | undefined>>;
}

/**
 * Test mode comes only from --test, never from a path. The files default to
 * env/operator-workstation[.test].env and env/broker[.test].env. Every problem is listed at once.
 */
export async function loadStack(opts: StackOptions): Promise<Stack> {
  const suffix = opts.test ? '.test' : '';
  const operatorEnvFile = opts.envFile ?? path.join(opts.envDir, `operator-workstation${suffix}.env`);
  const brokerEnvFile = opts.brokerEnvFile ?? path.join(opts.envDir, `broker${suffix}.env`);
  const opText = await readEnvFile(operatorEnvFile, opts.baseEnv ?? {}, '--stack-env');
  const brokerText = await readEnvFile(brokerEnvFile, { ...opts.baseEnv, ...opText }, '--broker-env-file');
  // zod is loaded only here: commands that never read the stack (verify-audit, sign) start without it.
  const { BrokerEnv, OperatorEnv, parseEnv } = await import('./stack-schema.js');
  const opParsed = parseEnv(OperatorEnv, opText, operatorEnvFile);
  const brokerParsed = parseEnv(BrokerEnv, brokerText, brokerEnvFile);
  const problems = [...opParsed.problems, ...brokerParsed.problems];
  const op = opParsed.value;
  const broker = brokerParsed.value;
  if (op && broker?.ACCOUNT_ID && broker.ACCOUNT_ID !== op.ACCOUNT_ID)
    problems.push(
      `${brokerEnvFile}: ACCOUNT_ID ${broker.ACCOUNT_ID} differs from ${operatorEnvFile} (${op.ACCOUNT_ID})`,
    );
  if (!op || !broker || problems.length > 0) throw invalid(problems);
  const stack = stackOf(op, broker, { test: opts.test === true, operatorEnvFile, brokerEnvFile });
  checkStackNames(stack);
  return stack;
}

function stackOf(
  op: OperatorEnvValues,
  broker: BrokerEnvValues,
  where: { test: boolean; operatorEnvFile: string; brokerEnvFile: string },
): Stack {
  const t = where.test ? '-test' : '';
  const roleName = (arn: string) => arn.split('/').pop()!;
  type DataClass = Stack['dataClasses'][number];
  const dataClass = (cls: DataClass['cls'], sid: DataClass['sid'], prefixClass: string, bucket: string, arn: string) =>
    ({ cls, sid, prefixClass, bucket, role: roleName(arn) }) as const;
  return {
    name: where.test ? 'test' : 'prod',
    operatorEnvFile: where.operatorEnvFile,
    brokerEnvFile: where.brokerEnvFile,
    accountId: op.ACCOUNT_ID,
    region: op.REGION,
    zone: op.ZONE.replace(/\.$/, ''),
    parentZoneId: op.PARENT_ZONE_ID,
    brokerHost: op.BROKER_HOST,
    mailDomain: op.MAIL_DOMAIN,
    mailBucket: op.BUCKET ?? op.MAIL_BUCKET ?? `agentkeys-mail${t}-${op.ACCOUNT_ID}`,
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
      dataClass('vault', 'Vault', 'credentials', op.VAULT_BUCKET, op.VAULT_ROLE_ARN),
      dataClass('memory', 'Memory', 'memory', op.MEMORY_BUCKET, op.MEMORY_ROLE_ARN),
      dataClass('config', 'Config', 'config', op.CONFIG_BUCKET, op.CONFIG_ROLE_ARN),
    ],
    hosts: [op.BROKER_HOST, op.SIGNER_HOST, op.MCP_HOST, ...WORKERS.map((w) => op[`WORKER_${w}_HOST`])],
    brokerHostRole: `agentkeys-broker-host${t}`,
    auditSignerRoles: op.AUDIT_SIGNER_ROLES.length > 0 ? op.AUDIT_SIGNER_ROLES : [`agentkeys-broker-host${t}`],
    witness: {
      bucket: op.WITNESS_BUCKET ?? `agentkeys-witness${t}-${op.ACCOUNT_ID}`,
      retentionDays: op.WITNESS_RETENTION_DAYS,
    },
    alerts: {
      topicName: `agentkeys-alerts${t}`,
      topicArn: `arn:aws:sns:${op.REGION}:${op.ACCOUNT_ID}:agentkeys-alerts${t}`,
      ...(op.ALERT_EMAIL ? { email: op.ALERT_EMAIL } : {}),
    },
    ...(op.EVM_SIGNER
      ? {
          evmSigner: {
            alias: op.EVM_SIGNER_ALIAS ?? `alias/agentkeys-evm${t}`,
            role: `agentkeys-evm-signer${t}`,
            policy: `agentkeys-evm-signer${t}-kms`,
          },
        }
      : {}),
  };
}

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

function invalid(problems: string[]): UsageError {
  return new UsageError({
    code: 'STACK_CONFIG_INVALID',
    message: `the stack's env files have ${problems.length} problem(s)`,
    details: problems,
    hint: 'fix the env files (see env/*.env for documented examples)',
  });
}
