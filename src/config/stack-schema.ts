// The stack env files' schemas (zod), apart from src/config/stack.ts so that only loading a stack
// pays for importing zod.
import { z } from 'zod';
import { WORKERS } from './stack-workers.js';

const required = (what = 'is required') => z.string({ required_error: what }).min(1, what);
const workerHosts = Object.fromEntries(WORKERS.map((w) => [`WORKER_${w}_HOST`, required()])) as Record<
  `WORKER_${(typeof WORKERS)[number]}_HOST`,
  ReturnType<typeof required>
>;

/** The operator env file, parsed once into a typed record: every name the stack needs, checked. */
export const OperatorEnv = z.object({
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
  ALERT_EMAIL: z
    .string()
    .regex(/^[^@\s]+@[^@\s]+\.[^@\s]+$/, 'is not an email address')
    .optional(),
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
export const BrokerEnv = z.object({
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
export function parseEnv<T extends z.ZodType>(schema: T, env: Record<string, string>, file: string) {
  const parsed = schema.safeParse(present(env));
  if (parsed.success) return { value: parsed.data as z.output<T>, problems: [] as string[] };
  const problems = parsed.error.issues.map((issue) => {
    const key = String(issue.path[0] ?? '');
    const value = env[key];
    return `${file}: ${key}${value ? ` "${value}"` : ''} ${issue.message}`;
  });
  return { value: undefined, problems };
}

export type OperatorEnvValues = z.output<typeof OperatorEnv>;
export type BrokerEnvValues = z.output<typeof BrokerEnv>;
