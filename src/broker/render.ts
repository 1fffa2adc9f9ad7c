// Every file the broker host needs, rendered from templates/host with the stack's values: one
// systemd unit per service, nginx Phase A (HTTP, ACME webroot, 503) and Phase B (TLS) per host,
// sshd's Instance Connect drop-in, and /etc/agentkeys/broker.env. Pure: paths are as on the host
// (relative to its root), the caller decides where they land.
import * as path from 'node:path';
import { UsageError } from '../errors.js';
import type { Stack } from '../config/stack.js';
import { renderText } from '../sys/templates.js';
import { renderWatchFiles, watchSettings } from './watch.js';
import type { RenderedFile } from './rendered-file.js';

export interface HostService {
  name: string;
  host: string;
  port: number;
  binary: string;
}

export interface RenderOptions {
  /** Where the service binaries live on the host (default /opt/agentkeys/bin). */
  binDir?: string;
  /** certbot's live directory (default /etc/letsencrypt/live). */
  certDir?: string;
  /** The ACME webroot nginx serves and certbot writes (default /var/www/certbot, certbot's usual webroot). */
  webroot?: string;
  /**
   * A root the whole tree lives under (a staging image, or a test's scratch folder): every path a
   * rendered file names (binaries, certificates, webroot, env file, Instance Connect) is below it.
   */
  root?: string;
  /** The first service port (default 8080): the others follow at +10, +11 and +21…+26. */
  portBase?: number;
  /**
   * Copies the watches read on the host: the operator env file's text (names only, no secrets)
   * and the signer registry setup published (the verify watch needs it to check signatures).
   */
  copies?: { stackEnv: string; signers?: string };
  /** The agentkeys CLI on the host the watches run (default AGENTKEYS_BIN, else /usr/local/bin/agentkeys). */
  agentkeysBin?: string;
}

export type { RenderedFile } from './rendered-file.js';

const WORKERS = ['audit', 'email', 'cred', 'memory', 'config', 'classify'];

/** The services and the host each is served on, in the stack's host order (broker, signer, MCP, workers). */
export function brokerServices(stack: Stack, portBase = 8080): HostService[] {
  const [broker, signer, mcp, ...workers] = stack.hosts;
  return [
    { name: 'broker', host: broker!, port: portBase, binary: 'agentkeys-broker-server' },
    { name: 'signer', host: signer!, port: portBase + 10, binary: 'agentkeys-signer' },
    { name: 'mcp', host: mcp!, port: portBase + 11, binary: 'agentkeys-mcp-server' },
    ...workers.map((host, i) => ({
      name: `worker-${WORKERS[i]}`,
      host,
      port: portBase + 21 + i,
      binary: `agentkeys-worker-${WORKERS[i]}`,
    })),
  ];
}

export function renderHostFiles(
  stack: Stack,
  brokerEnv: Readonly<Record<string, string>>,
  opts: RenderOptions = {},
): RenderedFile[] {
  const paths = hostPaths(opts);
  const common = {
    stack: stack.name,
    binDir: paths.binDir,
    certDir: paths.certDir,
    webroot: paths.webroot,
    envFile: paths.envFile,
    eicDir: paths.eicDir,
  };
  const files: RenderedFile[] = [];
  const services = brokerServices(stack, opts.portBase);
  for (const s of services) {
    const worker = s.name.startsWith('worker-');
    const envFiles = [paths.envFile, ...(worker ? [workerEnvPath(paths, s)] : [])];
    const vars = {
      ...common,
      name: s.name,
      host: s.host,
      port: String(s.port),
      binary: s.binary,
      environmentFiles: envFiles.map((f) => `EnvironmentFile=${f}`).join('\n'),
    };
    files.push(
      {
        path: `etc/systemd/system/agentkeys-${s.name}.service`,
        content: renderText('host/service.service', vars),
        mode: 0o644,
      },
      {
        path: `etc/nginx/agentkeys/phase-a/${s.host}.conf`,
        content: renderText('host/nginx-phase-a.conf', vars),
        mode: 0o644,
      },
      {
        path: `etc/nginx/agentkeys/phase-b/${s.host}.conf`,
        content: renderText('host/nginx-phase-b.conf', vars),
        mode: 0o644,
      },
    );
  }
  files.push(
    {
      path: 'etc/ssh/sshd_config.d/60-agentkeys-instance-connect.conf',
      content: renderText('host/sshd-instance-connect.conf', common),
      mode: 0o644,
    },
    { path: 'etc/agentkeys/broker.env', content: brokerEnvFile(stack, brokerEnv, paths), mode: 0o600 },
    ...services
      .filter((s) => s.name.startsWith('worker-'))
      .map((s) => ({
        path: path.posix.relative(opts.root ?? '/', workerEnvPath(paths, s)),
        content: workerEnvFile(stack, s, services[0]!, paths),
        mode: 0o644,
      })),
    ...renderWatchFiles(stack, watchSettings(brokerEnv, opts.agentkeysBin), paths),
  );
  if (opts.copies) {
    files.push({ path: 'etc/agentkeys/stack.env', content: opts.copies.stackEnv, mode: 0o644 });
    if (opts.copies.signers !== undefined)
      files.push({ path: 'etc/agentkeys/signers.json', content: opts.copies.signers, mode: 0o644 });
  }
  return files;
}

/** Where things live on the host, below the root (default /). */
export function hostPaths(opts: Pick<RenderOptions, 'root' | 'binDir' | 'certDir' | 'webroot'> = {}) {
  const under = (p: string) => path.posix.join(opts.root ?? '/', p);
  return {
    binDir: opts.binDir ?? under('opt/agentkeys/bin'),
    certDir: opts.certDir ?? under('etc/letsencrypt/live'),
    webroot: opts.webroot ?? under('var/www/certbot'),
    envFile: under('etc/agentkeys/broker.env'),
    eicDir: under('usr/share/ec2-instance-connect'),
    // The watches' files (src/broker/watch.ts).
    settingsFile: under('etc/agentkeys/watch.env'),
    stackEnvFile: under('etc/agentkeys/stack.env'),
    brokerEnvFile: under('etc/agentkeys/broker.env'),
    signersFile: under('etc/agentkeys/signers.json'),
    // What the broker and its workers keep on the host, created there (steps 5 and 6), never sent.
    stateDir: under('var/lib/agentkeys'),
    oidcKeypair: under('var/lib/agentkeys/keys/oidc-keypair.json'),
    sessionKeypair: under('var/lib/agentkeys/keys/session-keypair.json'),
    masterSecret: under('var/lib/agentkeys/dev_key_service/master-secret'),
  };
}

type HostPaths = ReturnType<typeof hostPaths>;

/** /etc/agentkeys/worker-audit.env and its kind: one per worker, beside broker.env. */
const workerEnvPath = (paths: HostPaths, s: HostService) =>
  path.posix.join(path.posix.dirname(paths.envFile), `${s.name}.env`);

/**
 * A worker's own settings (its EnvironmentFile after broker.env): who it is, where the broker
 * answers on loopback, the dev_key_service master secret's path (never its value), and the bucket
 * and role of its data class. Nothing secret: mode 0644.
 */
function workerEnvFile(stack: Stack, s: HostService, broker: HostService, paths: HostPaths): string {
  const cls = { 'worker-cred': 'vault', 'worker-memory': 'memory', 'worker-config': 'config' }[s.name];
  const data = stack.dataClasses.find((d) => d.cls === cls);
  const values: [string, string][] = [
    ['WORKER_NAME', s.name.replace(/^worker-/, '')],
    ['WORKER_PUBLIC_HOST', s.host],
    ['BROKER_URL', `http://127.0.0.1:${broker.port}`],
    ['AWS_REGION', stack.region],
    ['DEV_KEY_SERVICE_MASTER_SECRET_FILE', paths.masterSecret],
    ...(data
      ? ([
          ['DATA_BUCKET', data.bucket],
          ['DATA_ROLE_ARN', `arn:aws:iam::${stack.accountId}:role/${data.role}`],
        ] as [string, string][])
      : []),
    ...(s.name === 'worker-email' ? ([['MAIL_BUCKET', stack.mailBucket]] as [string, string][]) : []),
  ];
  const header = `# Rendered by agentkeys broker render (${stack.name} stack): ${s.name}'s own settings.`;
  return `${header}\n${values.map(([k, v]) => `${k}=${quoteEnv(v)}`).join('\n')}\n`;
}

const quoteEnv = (value: string) => `"${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;

/**
 * The nine settings the broker reads, each with the value upstream's setup-broker-host.sh gives it
 * when the broker env file leaves it out. The keypair paths are under /var/lib/agentkeys: the
 * units run with ProtectHome=yes, so upstream's /home/ubuntu/.agentkeys would be unreadable.
 */
export function brokerDefaults(stack: Stack, paths: Pick<HostPaths, 'oidcKeypair' | 'sessionKeypair'>) {
  return {
    BROKER_DATA_ROLE_ARN: stack.dataRoleArnEnv ?? `arn:aws:iam::${stack.accountId}:role/${stack.dataRole}`,
    BROKER_AWS_REGION: stack.region,
    BROKER_OIDC_ISSUER: stack.oidcIssuer,
    BROKER_OIDC_KEYPAIR_PATH: paths.oidcKeypair,
    BROKER_SESSION_KEYPAIR_PATH: paths.sessionKeypair,
    BROKER_AUTH_METHODS: 'wallet_sig,email_link',
    BROKER_AUDIT_ANCHORS: 'sqlite',
    BROKER_EMAIL_SENDER: 'ses',
    BROKER_EMAIL_FROM_ADDRESS: stack.senderAddress,
  };
}

/**
 * The broker env file as systemd reads it (EnvironmentFile): the operator's broker env values,
 * and the hosts and issuer from the stack, double-quoted with \, " and $ escaped. A value with a
 * newline cannot be written faithfully, so it is refused by name.
 */
export function brokerEnvFile(
  stack: Stack,
  brokerEnv: Readonly<Record<string, string>>,
  paths: Pick<HostPaths, 'oidcKeypair' | 'sessionKeypair'> = hostPaths(),
): string {
  const values: Record<string, string> = { ...brokerEnv, AGENTKEYS_STACK: stack.name, BROKER_HOST: stack.brokerHost };
  // A setting left out or left empty gets upstream's value: the broker reads all nine.
  for (const [key, value] of Object.entries(brokerDefaults(stack, paths))) if (!values[key]) values[key] = value;
  const lines = Object.keys(values)
    .sort()
    .map((key) => {
      const value = values[key]!;
      if (/[\r\n]/.test(value))
        throw new UsageError({
          code: 'BROKER_ENV_VALUE_INVALID',
          message: `${stack.brokerEnvFile}: ${key} holds a newline, which an EnvironmentFile cannot carry`,
          hint: 'put the value on one line (PEM keys: literal \\n)',
        });
      return `${key}=${quoteEnv(value)}`;
    });
  const header = `# Rendered by agentkeys broker render (${stack.name} stack) from ${stack.brokerEnvFile}. Mode 0600.`;
  return `${header}\n${lines.join('\n')}\n`;
}
