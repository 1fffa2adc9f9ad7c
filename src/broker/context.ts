// What broker setup's steps work on: the host's shell over SSH, the root the tree lives under, the
// rendered files, and the laptop's view of DNS. Built once per run by the command.
import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import type { Stack } from '../config/stack.js';
import { shQuote, type HostShell } from '../ssh/connection.js';
import type { ResolveA } from './dns.js';
import { watchSettings, type WatchSettings } from './watch.js';
import { brokerServices, hostPaths, renderHostFiles, type HostService, type RenderedFile } from './render.js';

export interface BrokerContext {
  stack: Stack;
  shell: HostShell;
  /** The host's / (default), or a staging root every path is below (--host-root). */
  root: string;
  files: RenderedFile[];
  services: HostService[];
  paths: ReturnType<typeof hostPaths>;
  /** The EIP the hostnames must resolve to before certbot can be asked. */
  eip?: string;
  /** Let's Encrypt account email (ACME_EMAIL in the broker env file, or --email). */
  acmeEmail?: string;
  resolveA: ResolveA;
  showSecret: boolean;
  /** The scheduled proofs' settings from the broker env file (the agentkeys CLI on the host). */
  watch: WatchSettings;
  /** Learned this run: services whose unit or env file changed, restarted by the services step. */
  state: { restart: Set<string> };
}

/**
 * The copies the host's watches read (src/broker/watch.ts): the operator env file as it is (names,
 * no secrets) and the registry setup published the audit key into, when there is one yet.
 */
export async function readHostCopies(
  stack: Stack,
  signersPath: string,
): Promise<{ stackEnv: string; signers?: string }> {
  const stackEnv = await readFile(stack.operatorEnvFile, 'utf8');
  const signers = await readFile(signersPath, 'utf8').catch(() => undefined);
  return { stackEnv, ...(signers !== undefined ? { signers } : {}) };
}

export interface BrokerContextInput {
  stack: Stack;
  shell: HostShell;
  brokerEnv: Readonly<Record<string, string>>;
  resolveA: ResolveA;
  root?: string;
  binDir?: string;
  portBase?: number;
  acmeEmail?: string;
  showSecret?: boolean;
  copies?: { stackEnv: string; signers?: string };
}

export function brokerContext(input: BrokerContextInput): BrokerContext {
  const root = input.root ?? '/';
  const renderOpts = {
    root,
    ...(input.binDir ? { binDir: input.binDir } : {}),
    ...(input.portBase ? { portBase: input.portBase } : {}),
    ...(input.copies ? { copies: input.copies } : {}),
  };
  const email = input.acmeEmail ?? input.brokerEnv.ACME_EMAIL;
  return {
    stack: input.stack,
    shell: input.shell,
    root,
    files: renderHostFiles(input.stack, input.brokerEnv, renderOpts),
    services: brokerServices(input.stack, input.portBase),
    paths: hostPaths(renderOpts),
    ...(input.brokerEnv.EIP ? { eip: input.brokerEnv.EIP } : {}),
    ...(email ? { acmeEmail: email } : {}),
    resolveA: input.resolveA,
    watch: watchSettings(input.brokerEnv),
    showSecret: input.showSecret === true,
    state: { restart: new Set() },
  };
}

/** A path on the host for a path relative to its root. */
export const onHost = (ctx: Pick<BrokerContext, 'root'>, rel: string): string => path.posix.join(ctx.root, rel);

/** The command that re-runs one broker step of this stack, for waiting and blocked hints. */
export const brokerRerun = (ctx: Pick<BrokerContext, 'stack'>, step: string): string =>
  `agentkeys broker setup${ctx.stack.name === 'test' ? ' --test' : ''} --only-step ${step}`;

/** The --prefix useradd and usermod take for a root other than /. */
export const prefixFlag = (ctx: Pick<BrokerContext, 'root'>): string =>
  ctx.root === '/' ? '' : ` --prefix ${shQuote(ctx.root)}`;
