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
  /** Where the binaries come from (step 4): uploaded from this machine, or built on the host. */
  release?: Release;
  /** The broker's keypairs on the host (BROKER_*_KEYPAIR_PATH, default under /var/lib/agentkeys/keys). */
  keypairs: { oidc: string; session: string };
  /** Where the OIDC public JWKS fetched back from the host is kept on this machine. */
  jwksFile: string;
  /**
   * Learned this run: services whose unit, env file or binary changed (restarted by the services
   * step), and whether this run started the build (its failure is then this run's error).
   */
  state: { restart: Set<string>; startedBuild?: boolean };
}

/** A binary to upload: its path here, its SHA-256 and size. */
export interface LocalBinary {
  binary: string;
  file: string;
  sha256: string;
  size: number;
}

export type Release =
  | { kind: 'upload'; dir: string; binaries: LocalBinary[] }
  | { kind: 'build'; repo: string; ref: string; command: string; out: string };

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
  release?: Release;
  /** The local folder broker state goes in (.agentkeys/broker): the fetched JWKS. */
  localDir?: string;
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
  const paths = hostPaths(renderOpts);
  return {
    stack: input.stack,
    shell: input.shell,
    root,
    files: renderHostFiles(input.stack, input.brokerEnv, renderOpts),
    services: brokerServices(input.stack, input.portBase),
    paths,
    keypairs: {
      oidc: input.brokerEnv.BROKER_OIDC_KEYPAIR_PATH || paths.oidcKeypair,
      session: input.brokerEnv.BROKER_SESSION_KEYPAIR_PATH || paths.sessionKeypair,
    },
    jwksFile: path.join(input.localDir ?? '.agentkeys/broker', `${input.stack.name}.oidc-jwks.json`),
    ...(input.release ? { release: input.release } : {}),
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
