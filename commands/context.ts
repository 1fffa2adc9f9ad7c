import type { StoreOptions } from '../src/store/store.js';
import { agentkeysHome, loadConfig, type AgentkeysConfig } from '../src/config/load.js';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { createServices, type Services } from '../src/context.js';
import { loadStack, type Stack } from '../src/config/stack.js';
import { style, type OutputOptions } from './ui/format.js';

/** Options every command accepts (defined once in bin/agentkeys.ts). */
// `| undefined`: a caller may clear a setting it inherits (the sandbox clears --profile).
export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  envFile?: string | undefined;
  /** --settings: the settings file under a name Node 20 never takes for itself (npx runs on Node). */
  settings?: string | undefined;
  region?: string;
  profile?: string | undefined;
  roleArn?: string | undefined;
  auditLog?: string;
  auditKey?: string;
  followSymlinks?: boolean;
}

/** setup and teardown: the stack's operator env file, apart from the global settings file. */
export interface StackFileOptions {
  stackEnv?: string;
  /** Set when the old spelling (`setup --env-file F`) was used: the note to print. */
  stackEnvDeprecated?: string;
  brokerEnvFile?: string;
}

/** The stack setup and teardown work on: `--test`, `--env-dir`, `--stack-env`, `--broker-env-file`. */
export function loadStackOf(options: StackFileOptions & { test?: boolean; envDir?: string }): Promise<Stack> {
  return loadStack({
    test: options.test === true,
    envDir: options.envDir ?? path.join(agentkeysHome(process.env) ?? '.', 'env'),
    ...(options.stackEnv ? { envFile: options.stackEnv } : {}),
    ...(options.brokerEnvFile ? { brokerEnvFile: options.brokerEnvFile } : {}),
    baseEnv: {},
  });
}

export interface CommandContext {
  config: AgentkeysConfig;
  out: OutputOptions;
  services: Services;
}

/**
 * keyIsSigningKey: on `sign`, --key is the audit signing key; on encrypt, keys and the rest it
 * names the key operated on, so it must not become the signer of the --audit-log trail.
 */
export interface ContextOptions {
  keyIsSigningKey?: boolean;
  /** evm and mcp: VAULT_REGION wins over AWS_REGION, --region over both. */
  preferVaultRegion?: boolean;
  /** KMS attempts per call (SDK retries with backoff); long-running servers ride out throttling. */
  kmsMaxAttempts?: number;
  /** The environment settings are read from (default process.env): the sandbox passes its own. */
  env?: NodeJS.ProcessEnv;
  /** Static credentials that replace the chain (the sandbox's moto admin). */
  awsCredentials?: { accessKeyId: string; secretAccessKey: string };
}

export async function createContext(
  options: GlobalOptions & Record<string, unknown>,
  opts: ContextOptions = {},
): Promise<CommandContext> {
  const flags = opts.keyIsSigningKey ? options : { ...options, key: undefined };
  const env = opts.env ?? process.env;
  const settingsFile = options.settings ?? options.envFile ?? (env.AGENTKEYS_SETTINGS || undefined);
  const sources = { flags, env, ...(settingsFile ? { envFile: settingsFile } : {}) };
  let config = await loadConfig(sources);
  if (opts.awsCredentials) config = Object.freeze({ ...config, credentials: opts.awsCredentials });
  if (opts.preferVaultRegion && !options.region && config.vaultRegion)
    config = Object.freeze({ ...config, region: config.vaultRegion });
  const kmsMaxAttempts = config.kmsMaxAttempts ?? opts.kmsMaxAttempts;
  const onDefaultRegion = (region: string) =>
    process.stderr.write(
      style.dim(`→ no AWS region set: using ${region} (set AWS_REGION, VAULT_REGION or --region)\n`),
    );
  const services = createServices(config, { onDefaultRegion, ...(kmsMaxAttempts ? { kmsMaxAttempts } : {}) });
  const debug = options.debug === true || config.logLevel === 'debug';
  announceNewStateFolder(config.dir, agentkeysHome(env) !== undefined);
  return { config, out: { json: options.json === true, debug }, services };
}

/**
 * The state folder resolves against the current folder (or AGENTKEYS_HOME): a run from elsewhere
 * would silently start a second one. When this command creates it, the operator is told where.
 */
function announceNewStateFolder(dir: string, homeSet: boolean): void {
  if (existsSync(dir)) return;
  const advice = homeSet ? '' : ' (AGENTKEYS_HOME keeps one for every folder)';
  process.once('exit', () => {
    if (existsSync(dir)) process.stderr.write(style.dim(`→ created the state folder ${path.resolve(dir)}${advice}\n`));
  });
}

/** How a writer opens its log, from the settings: statement timeout, symlinks, the lock's staleness. */
export function writerStoreOptions(ctx: CommandContext): StoreOptions {
  return {
    statementTimeoutMs: ctx.config.pgStatementTimeoutMs,
    followSymlinks: ctx.config.followSymlinks,
    ...(ctx.config.lockStaleMs ? { lockStaleMs: ctx.config.lockStaleMs } : {}),
  };
}
