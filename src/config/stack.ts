import * as path from 'node:path';
import { z } from 'zod';
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

const required = (what = 'is required') => z.string({ required_error: what }).min(1, what);
const WORKERS = ['AUDIT', 'EMAIL', 'CRED', 'MEMORY', 'CONFIG', 'CLASSIFY'] as const;
const workerHosts = Object.fromEntries(WORKERS.map((w) => [`WORKER_${w}_HOST`, required()])) as Record<
  `WORKER_${(typeof WORKERS)[number]}_HOST`,
  ReturnType<typeof required>
>;

/** The operator env file, parsed once into a typed record: every name the stack needs, checked. */
const OperatorEnv = z.object({
  ACCOUNT_ID: required().regex(/^\d{12}$/, 'is not 12 digits'),
  REGION: required(),
  ZONE: required(),
  PARENT_ZONE_ID: required(),
  BROKER_HOST: required(),
  MAIL_DOMAIN: required(),
  VAULT_ROLE_ARN: required(),
  MEMORY_ROLE_ARN: required(),
  CONFIG_ROLE_ARN: required(),
  VAULT_BUCKET: required(),
  MEMORY_BUCKET: required(),
  CONFIG_BUCKET: required(),
  SIGNER_HOST: required(),
  MCP_HOST: required(),
  ...workerHosts,
  BUCKET: z.string().optional(),
  MAIL_BUCKET: z.string().optional(),
  BROKER_EMAIL_FROM_ADDRESS: z.string().optional(),
  OIDC_ISSUER: z.string().optional(),
  OIDC_PROVIDER_ARN: z.string().optional(),
  DATA_ROLE_ARN: z.string().optional(),
  WITNESS_BUCKET: z.string().optional(),
  WITNESS_RETENTION_DAYS: z
    .string()
    .regex(/^[1-9]\d{0,4}$/, 'is not a number of days (1-99999)')
    .default('365')
    .transform(Number),
  AUDIT_SIGNER_ROLES: z
    .string()
    .optional()
    .transform((v) =>
      (v ?? '')
        .split(',')
        .map((r) => r.trim())
        .filter((r) => r !== ''),
    )
    .refine((roles) => roles.every((r) => /^[\w+=,.@-]{1,64}$/.test(r)), 'names a role that is not an IAM role name'),
  EVM_SIGNER: z
    .string()
    .optional()
    .refine((v) => v === undefined || /^(|true|1|yes|false|0|no)$/i.test(v), 'is not true or false')
    .transform((v) => v !== undefined && /^(true|1|yes)$/i.test(v)),
  EVM_SIGNER_ALIAS: z.string().optional(),
});

/** The broker env file: what the host's setup wrote back (its instance, its address). */
const BrokerEnv = z.object({
  ACCOUNT_ID: z.string().optional(),
  INSTANCE_ID: z
    .string()
    .regex(/^i-[0-9a-f]{8,17}$/, 'is not an EC2 instance id')
    .optional(),
  EIP: z
    .string()
    .regex(/^\d{1,3}(\.\d{1,3}){3}$/, 'is not an IPv4 address')
    .optional(),
});

/** Empty values read as unset, as a shell's `${X:-default}` would. */
const present = (env: Record<string, string>) => Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ''));

/** Every problem of one file, each as `FILE: KEY "value" reason`. */
function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, string>, file: string) {
  const parsed = schema.safeParse(present(env));
  if (parsed.success) return { value: parsed.data as z.output<T>, problems: [] as string[] };
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const value = env[key];
    return `${file}: ${key}${value ? ` "${value}"` : ''} ${issue.message}`;
  });
  return { value: undefined, problems };
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
  op: z.output<typeof OperatorEnv>,
  broker: z.output<typeof BrokerEnv>,
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
