import { loadConfig, type AgentkeysConfig } from '../src/config/load.js';
import { createServices, type Services } from '../src/context.js';
import type { OutputOptions } from './ui/format.js';

/** Options every command accepts (defined once in bin/agentkeys.ts). */
export interface GlobalOptions {
  json?: boolean;
  debug?: boolean;
  envFile?: string;
  region?: string;
  profile?: string;
  roleArn?: string;
  auditLog?: string;
}

export interface CommandContext {
  config: AgentkeysConfig;
  out: OutputOptions;
  services: Services;
}

export async function createContext(options: GlobalOptions & Record<string, unknown>): Promise<CommandContext> {
  const sources = { flags: options, env: process.env, ...(options.envFile ? { envFile: options.envFile } : {}) };
  const config = await loadConfig(sources);
  return { config, out: { json: options.json === true, debug: options.debug === true }, services: createServices(config) };
}
