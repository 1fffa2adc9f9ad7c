import * as path from 'node:path';
import type { AwsAuthOptions } from '../aws/credentials.js';
import { UsageError } from '../errors.js';
import { fileExists } from '../sys/fs.js';
import { normalizeAlgorithm, type SigningAlg } from '../signing/algorithms.js';
import { readEnvFile } from './env-file.js';

/**
 * Validated, frozen settings; core code reads these, never process.env. The AWS credential
 * choices (region, profile, role, web identity, KMS endpoint) sit beside the rest.
 */
export interface AgentkeysConfig extends AwsAuthOptions {
  /** Where local keys and the default registry live. */
  dir: string;
  signersPath: string;
  requireKms: boolean;
  /** --follow-symlinks: write a log through a symlink (refused by default: issue 23). */
  followSymlinks: boolean;
  devAllowEphemeral: boolean;
  keyRef?: string;
  keySource?: 'local' | 'kms';
  kmsKeyId?: string;
  privateKey?: string;
  keyPath?: string;
  alg?: SigningAlg;
  signerKid?: string;
  /** The audit log: a JSON Lines path or a postgres:// URL (--log, or DATABASE_URL). */
  log?: string;
  /** Where every KMS operation is recorded as a signed event (--audit-log, AGENTKEYS_AUDIT_LOG). */
  auditLog?: string;
  /** The key that signs those events; default: the configured signing key. */
  auditKey?: string;
  /** The Agentic Vault EVM key (VAULT_KEY_ID): `evm` and `mcp` use it when --key is absent. */
  vaultKeyId?: string;
  /** VAULT_REGION: the region `evm` and `mcp` prefer over AWS_REGION, as the seed documents. */
  vaultRegion?: string;
  /** AGENTKEYS_SSH_BINARY: the ssh client `agentkeys ssh` runs (default ssh on PATH). */
  sshBinary?: string;
  /** DATABASE_URL as a database (db migrate), beside its use as the default log. */
  databaseUrl?: string;
  /** The verifier registry inline (KERNEL_PUBLIC_KEYS_JSON) or by https URL (KERNEL_PUBLIC_KEYS_URL). */
  registryJson?: string;
  registryUrl?: string;
  /** AUDIT_SIGNING_KEY_URL: a local signing key (PEM) fetched over https when signing. */
  keyUrl?: string;
  /** OIDC_TOKEN: the web identity token itself, where no token file is mounted. */
  webIdentityToken?: string;
  /** KMS_AUTH_MODE: iam (the credential chain) or oidc (web identity, KMS_ROLE_ARN). */
  kmsAuthMode?: 'iam' | 'oidc';
  /** LOG_LEVEL: debug is --debug; error, warn and info are accepted. */
  logLevel?: 'error' | 'warn' | 'info' | 'debug';
  /** Seconds an assumed-role or web-identity session lasts (900-3600; the services' sessions last at most 1 h). */
  sessionSeconds: number;
  /** AgentIdP settings doctor checks: REDIS_URL, and the RS256 pair as PEM text. */
  redisUrl?: string;
  jwtPrivateKey?: string;
  jwtPublicKey?: string;
  /** ALERT_TARGET: where `agentkeys alert` sends (sns:ARN, webhook:URL, journal); may hold a token. */
  alertTarget?: string;
  /** SETUP_ALLOWED_PRINCIPALS: caller ARN patterns setup accepts. */
  allowedPrincipals: string[];
  /** Postgres server-side statement timeout. */
  pgStatementTimeoutMs: number;
  /** AGENTKEYS_KMS_MAX_ATTEMPTS: attempts per KMS request, retries with backoff included. */
  kmsMaxAttempts?: number;
  /** AGENTKEYS_LOCK_STALE_MS: when a file log's lock counts as abandoned (default 15 s, at least 2 s). */
  lockStaleMs?: number;
  /** How long a KMS key's metadata and public key are reused from .agentkeys/cache (0: never). */
  keyCacheTtlMs?: number;
  /** Where each setting came from, for `--debug` and error messages. */
  origins: Readonly<Record<string, string>>;
}

/** One setting: its env name (the names the services already use), its flag, and how to read it. */
interface Setting {
  key: keyof Omit<AgentkeysConfig, 'origins'>;
  env: string[];
  flag?: string;
}

const SETTINGS: Setting[] = [
  { key: 'dir', env: ['AGENTKEYS_DIR'], flag: 'dir' },
  { key: 'signersPath', env: ['AGENTKEYS_SIGNERS', 'KERNEL_PUBLIC_KEYS_PATH'], flag: 'signers' },
  { key: 'requireKms', env: ['REQUIRE_KMS'] },
  { key: 'devAllowEphemeral', env: ['DEV_ALLOW_EPHEMERAL'] },
  { key: 'followSymlinks', env: ['AGENTKEYS_FOLLOW_SYMLINKS'], flag: 'followSymlinks' },
  { key: 'keyRef', env: ['AGENTKEYS_KEY'], flag: 'key' },
  { key: 'keySource', env: ['AUDIT_SIGNING_KEY_SOURCE'] },
  { key: 'kmsKeyId', env: ['AUDIT_SIGNING_KMS_KEY_ID', 'KMS_KEY_ALIAS'] },
  { key: 'privateKey', env: ['AUDIT_SIGNING_PRIVATE_KEY'] },
  { key: 'keyPath', env: ['AUDIT_SIGNING_KEY_PATH'] },
  { key: 'alg', env: ['AUDIT_SIGNING_ALG'], flag: 'alg' },
  { key: 'signerKid', env: ['AUDIT_SIGNER_KID'], flag: 'signerKid' },
  { key: 'log', env: ['DATABASE_URL'], flag: 'log' },
  { key: 'auditLog', env: ['AGENTKEYS_AUDIT_LOG'], flag: 'auditLog' },
  { key: 'auditKey', env: ['AGENTKEYS_AUDIT_KEY'], flag: 'auditKey' },
  { key: 'region', env: ['AWS_REGION', 'AWS_DEFAULT_REGION', 'VAULT_REGION'], flag: 'region' },
  { key: 'profile', env: [], flag: 'profile' },
  { key: 'roleArn', env: [], flag: 'roleArn' },
  { key: 'webIdentityTokenFile', env: ['OIDC_TOKEN_PATH'] },
  { key: 'webIdentityRoleArn', env: ['KMS_ROLE_ARN'] },
  { key: 'kmsEndpoint', env: ['KMS_ENDPOINT'] },
  { key: 'endpoint', env: ['AWS_ENDPOINT_URL'] },
  { key: 'vaultKeyId', env: ['VAULT_KEY_ID'], flag: 'keyId' },
  { key: 'vaultRegion', env: ['VAULT_REGION'] },
  { key: 'pgStatementTimeoutMs', env: ['AGENTKEYS_PG_STATEMENT_TIMEOUT_MS'] },
  { key: 'kmsMaxAttempts', env: ['AGENTKEYS_KMS_MAX_ATTEMPTS'] },
  { key: 'lockStaleMs', env: ['AGENTKEYS_LOCK_STALE_MS'] },
  { key: 'keyCacheTtlMs', env: ['AGENTKEYS_KEY_CACHE_TTL_MS'] },
  { key: 'sshBinary', env: ['AGENTKEYS_SSH_BINARY'] },
  { key: 'databaseUrl', env: ['DATABASE_URL'], flag: 'databaseUrl' },
  { key: 'allowedPrincipals', env: ['SETUP_ALLOWED_PRINCIPALS'] },
  { key: 'redisUrl', env: ['REDIS_URL'] },
  { key: 'registryJson', env: ['KERNEL_PUBLIC_KEYS_JSON'] },
  { key: 'registryUrl', env: ['KERNEL_PUBLIC_KEYS_URL'] },
  { key: 'keyUrl', env: ['AUDIT_SIGNING_KEY_URL'] },
  { key: 'webIdentityToken', env: ['OIDC_TOKEN'] },
  { key: 'kmsAuthMode', env: ['KMS_AUTH_MODE'] },
  { key: 'logLevel', env: ['LOG_LEVEL'] },
  { key: 'sessionSeconds', env: ['AGENTKEYS_SESSION_SECONDS'] },
  { key: 'jwtPrivateKey', env: ['JWT_PRIVATE_KEY'] },
  { key: 'jwtPublicKey', env: ['JWT_PUBLIC_KEY'] },
  { key: 'alertTarget', env: ['ALERT_TARGET'], flag: 'target' },
];

/**
 * The environment names of a setting a flag sets, from the one settings table: --help says them
 * from here, so the help and the code cannot disagree. Undefined for a flag no setting has.
 */
export function envNamesOfFlag(flag: string): readonly string[] | undefined {
  const names = SETTINGS.filter((s) => s.flag === flag).flatMap((s) => s.env);
  return names.length > 0 ? [...new Set(names)] : undefined;
}

export const DEFAULT_DIR = '.agentkeys';
export const DEFAULT_ENV_FILE = path.join(DEFAULT_DIR, 'agentkeys.env');

export interface ConfigSources {
  flags: Readonly<Record<string, unknown>>;
  env: Readonly<Record<string, string | undefined>>;
  /** --env-file; when absent, .agentkeys/agentkeys.env is read if it exists. */
  envFile?: string;
}

/** The audit log to use, or a usage error naming the ways to give one. */
export function requireLog(config: AgentkeysConfig): string {
  if (config.log) return config.log;
  throw new UsageError({
    code: 'LOG_MISSING',
    message: 'no audit log given',
    hint: 'pass --log audit.jsonl or --log postgres://…, or set DATABASE_URL',
  });
}

/**
 * Layers defaults < env file < environment variables < flags, then validates once and lists
 * every problem in a single CONFIG_INVALID error (exit 2).
 */
export async function loadConfig(sources: ConfigSources): Promise<AgentkeysConfig> {
  const home = agentkeysHome(sources.env);
  const defaultEnvFile = home ? path.join(home, DEFAULT_ENV_FILE) : DEFAULT_ENV_FILE;
  const envFile = sources.envFile ?? ((await fileExists(defaultEnvFile)) ? defaultEnvFile : undefined);
  const fileValues = envFile ? await readEnvFile(envFile, sources.env) : {};
  const raw: Record<string, string> = {};
  const origins: Record<string, string> = {};
  for (const setting of SETTINGS) {
    const picked = pick(setting, sources, fileValues, envFile);
    if (picked) {
      raw[setting.key] = picked.value;
      origins[setting.key] = picked.origin;
    }
  }
  if (home && raw.dir === undefined) {
    raw.dir = path.join(home, DEFAULT_DIR);
    origins.dir = 'environment AGENTKEYS_HOME';
  }
  return Object.freeze(validate(raw, origins));
}

/**
 * AGENTKEYS_HOME: the folder that holds `.agentkeys/` and `env/`, so a run from any other folder
 * finds the same state instead of starting a second `.agentkeys/` where it stands.
 */
export function agentkeysHome(env: Readonly<Record<string, string | undefined>>): string | undefined {
  const home = env.AGENTKEYS_HOME;
  return home ? path.resolve(home) : undefined;
}

function pick(
  setting: Setting,
  sources: ConfigSources,
  fileValues: Record<string, string>,
  envFile: string | undefined,
): { value: string; origin: string } | undefined {
  const flag = setting.flag === undefined ? undefined : sources.flags[setting.flag];
  if (typeof flag === 'string') return { value: flag, origin: `--${kebab(setting.flag!)}` };
  if (flag === true) return { value: 'true', origin: `--${kebab(setting.flag!)}` }; // a switch (--follow-symlinks)
  for (const name of setting.env) {
    const v = sources.env[name];
    if (v !== undefined && v !== '') return { value: v, origin: `environment ${name}` };
  }
  for (const name of setting.env) {
    const v = fileValues[name];
    if (v !== undefined && v !== '') return { value: v, origin: `${envFile} ${name}` };
  }
  return undefined;
}

// Settings copied as they are (their users check them when they are used).
const PLAIN_KEYS = [
  'keyRef',
  'kmsKeyId',
  'privateKey',
  'keyPath',
  'signerKid',
  'log',
  'auditLog',
  'auditKey',
  'region',
  'profile',
  'roleArn',
  'webIdentityTokenFile',
  'webIdentityRoleArn',
  'kmsEndpoint',
  'endpoint',
  'vaultKeyId',
  'vaultRegion',
  'sshBinary',
  'databaseUrl',
  'redisUrl',
  'jwtPrivateKey',
  'jwtPublicKey',
  'alertTarget',
  'registryJson',
  'registryUrl',
  'keyUrl',
  'webIdentityToken',
] as const;

type Problems = string[];

/** Every problem is listed at once, so one run shows all there is to fix. */
function validate(raw: Record<string, string>, origins: Record<string, string>): AgentkeysConfig {
  const problems: Problems = [];
  const dir = raw.dir ?? DEFAULT_DIR;
  const config: AgentkeysConfig = {
    dir,
    signersPath: raw.signersPath ?? path.join(dir, 'signers.json'),
    requireKms: parseBool(raw, origins, 'requireKms', problems),
    devAllowEphemeral: parseBool(raw, origins, 'devAllowEphemeral', problems),
    followSymlinks: parseBool(raw, origins, 'followSymlinks', problems),
    pgStatementTimeoutMs: 30_000,
    sessionSeconds: 3600,
    allowedPrincipals: (raw.allowedPrincipals ?? '')
      .split(',')
      .map((p) => p.trim())
      .filter(Boolean),
    origins,
  };
  for (const key of PLAIN_KEYS) if (raw[key] !== undefined) config[key] = raw[key];
  validateNumbers(raw, origins, config, problems);
  validateSigning(raw, origins, config, problems);
  validateAws(raw, origins, config, problems);
  if (problems.length > 0) {
    throw new UsageError({
      code: 'CONFIG_INVALID',
      message: `invalid configuration: ${problems.length} problem(s)`,
      details: problems,
      hint: 'fix the settings listed above',
    });
  }
  return config;
}

function parseBool(raw: Record<string, string>, origins: Record<string, string>, key: string, problems: Problems) {
  const v = raw[key];
  if (v === undefined) return false;
  if (/^(true|1|yes)$/i.test(v)) return true;
  if (/^(false|0|no)$/i.test(v)) return false;
  problems.push(`${origins[key]}: "${v}" is not true or false`);
  return false;
}

function validateNumbers(
  raw: Record<string, string>,
  origins: Record<string, string>,
  config: AgentkeysConfig,
  problems: Problems,
): void {
  const timeout = raw.pgStatementTimeoutMs;
  if (timeout !== undefined) {
    if (/^\d+$/.test(timeout) && Number(timeout) > 0) config.pgStatementTimeoutMs = Number(timeout);
    else problems.push(`${origins.pgStatementTimeoutMs}: "${timeout}" is not a positive number of milliseconds`);
  }
  const attempts = raw.kmsMaxAttempts;
  if (attempts !== undefined) {
    if (/^\d+$/.test(attempts) && Number(attempts) >= 1 && Number(attempts) <= 20)
      config.kmsMaxAttempts = Number(attempts);
    else problems.push(`${origins.kmsMaxAttempts}: "${attempts}" is not a number of attempts between 1 and 20`);
  }
  const stale = raw.lockStaleMs;
  if (stale !== undefined) {
    if (/^\d+$/.test(stale) && Number(stale) >= 2000) config.lockStaleMs = Number(stale);
    else problems.push(`${origins.lockStaleMs}: "${stale}" is not a number of milliseconds of at least 2000`);
  }
  const ttl = raw.keyCacheTtlMs;
  if (ttl !== undefined) {
    if (/^\d+$/.test(ttl) && Number(ttl) <= 3_600_000) config.keyCacheTtlMs = Number(ttl);
    else problems.push(`${origins.keyCacheTtlMs}: "${ttl}" is not a number of milliseconds from 0 to 3600000`);
  }
}

function validateSigning(
  raw: Record<string, string>,
  origins: Record<string, string>,
  config: AgentkeysConfig,
  problems: Problems,
): void {
  if (raw.alg !== undefined) {
    const alg = normalizeAlgorithm(raw.alg);
    if (alg) config.alg = alg;
    else
      problems.push(
        `${origins.alg}: unknown algorithm "${raw.alg}" (ed25519, rsa-sha256, ecdsa-p256, ` +
          `ecdsa-secp256k1, hmac-sha256)`,
      );
  }
  if (raw.keySource !== undefined) {
    const source = raw.keySource.toLowerCase();
    if (source === 'local' || source === 'kms') config.keySource = source;
    else problems.push(`${origins.keySource}: "${raw.keySource}" is not local or kms`);
  }
  if (raw.privateKey !== undefined && raw.keyPath !== undefined) {
    problems.push(`${origins.privateKey} and ${origins.keyPath} are both set; keep one`);
  }
  for (const key of ['keyRef', 'auditKey'] as const) {
    if (raw[key] !== undefined && !/^(kms|file|local):.+/.test(raw[key])) {
      problems.push(`${origins[key]}: "${raw[key]}" is not kms:<id|alias|arn>, file:<path> or local:<kid>`);
    }
  }
}

function validateAws(
  raw: Record<string, string>,
  origins: Record<string, string>,
  config: AgentkeysConfig,
  problems: Problems,
): void {
  const token = raw.webIdentityTokenFile ?? raw.webIdentityToken;
  if ((token === undefined) !== (raw.webIdentityRoleArn === undefined)) {
    problems.push(
      'OIDC_TOKEN_PATH (or OIDC_TOKEN) and KMS_ROLE_ARN go together: set both for web identity, or neither',
    );
  }
  if (raw.webIdentityTokenFile !== undefined && raw.webIdentityToken !== undefined)
    problems.push(`${origins.webIdentityTokenFile} and ${origins.webIdentityToken} are both set; keep one`);
  if (raw.kmsAuthMode !== undefined) {
    const mode = raw.kmsAuthMode.toLowerCase();
    if (mode === 'iam' || mode === 'oidc') config.kmsAuthMode = mode;
    else problems.push(`${origins.kmsAuthMode}: "${raw.kmsAuthMode}" is not iam or oidc`);
    if (mode === 'oidc' && (token === undefined || raw.webIdentityRoleArn === undefined))
      problems.push(`${origins.kmsAuthMode}=oidc needs OIDC_TOKEN_PATH (or OIDC_TOKEN) and KMS_ROLE_ARN`);
  }
  if (raw.roleArn !== undefined && !/^arn:aws[a-z-]*:iam::\d{12}:role\/.+/.test(raw.roleArn)) {
    problems.push(`${origins.roleArn}: "${raw.roleArn}" is not an IAM role ARN`);
  }
  if (raw.logLevel !== undefined) {
    const level = raw.logLevel.toLowerCase();
    if (level === 'error' || level === 'warn' || level === 'info' || level === 'debug') config.logLevel = level;
    else problems.push(`${origins.logLevel}: "${raw.logLevel}" is not error, warn, info or debug`);
  }
  if (raw.sessionSeconds !== undefined) {
    const n = Number(raw.sessionSeconds);
    if (/^\d+$/.test(raw.sessionSeconds) && n >= 900 && n <= 3600) config.sessionSeconds = n;
    else problems.push(`${origins.sessionSeconds}: "${raw.sessionSeconds}" is not 900-3600 seconds (at most 1 h)`);
  }
}

function kebab(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}
