// Every file the broker host needs, rendered from templates/host with the stack's values: one
// systemd unit per service, nginx Phase A (HTTP, ACME webroot, 503) and Phase B (TLS) per host,
// sshd's Instance Connect drop-in, and /etc/agentkeys/broker.env. Pure: paths are as on the host
// (relative to its root), the caller decides where they land.
import { UsageError } from '../errors.js';
import type { Stack } from '../setup/stack.js';
import { renderText } from '../sys/templates.js';

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
  /** The ACME webroot nginx serves and certbot writes (default /var/www/acme). */
  webroot?: string;
}

export interface RenderedFile {
  /** Relative to the host's root, e.g. etc/systemd/system/agentkeys-broker.service. */
  path: string;
  content: string;
  mode: number;
}

const WORKERS = ['audit', 'email', 'cred', 'memory', 'config', 'classify'];

/** The services and the host each is served on, in the stack's host order (broker, signer, MCP, workers). */
export function brokerServices(stack: Stack): HostService[] {
  const [broker, signer, mcp, ...workers] = stack.hosts;
  return [
    { name: 'broker', host: broker!, port: 8080, binary: 'agentkeys-broker-server' },
    { name: 'signer', host: signer!, port: 8090, binary: 'agentkeys-signer' },
    { name: 'mcp', host: mcp!, port: 8091, binary: 'agentkeys-mcp-server' },
    ...workers.map((host, i) => ({
      name: `worker-${WORKERS[i]}`,
      host,
      port: 8101 + i,
      binary: `agentkeys-worker-${WORKERS[i]}`,
    })),
  ];
}

export function renderHostFiles(
  stack: Stack,
  brokerEnv: Readonly<Record<string, string>>,
  opts: RenderOptions = {},
): RenderedFile[] {
  const common = {
    stack: stack.name,
    binDir: opts.binDir ?? '/opt/agentkeys/bin',
    certDir: opts.certDir ?? '/etc/letsencrypt/live',
    webroot: opts.webroot ?? '/var/www/acme',
  };
  const files: RenderedFile[] = [];
  for (const s of brokerServices(stack)) {
    const vars = { ...common, name: s.name, host: s.host, port: String(s.port), binary: s.binary };
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
    { path: 'etc/agentkeys/broker.env', content: brokerEnvFile(stack, brokerEnv), mode: 0o600 },
  );
  return files;
}

/**
 * The broker env file as systemd reads it (EnvironmentFile): the operator's broker env values,
 * and the hosts and issuer from the stack, double-quoted with \, " and $ escaped. A value with a
 * newline cannot be written faithfully, so it is refused by name.
 */
export function brokerEnvFile(stack: Stack, brokerEnv: Readonly<Record<string, string>>): string {
  const values: Record<string, string> = {
    ...brokerEnv,
    AGENTKEYS_STACK: stack.name,
    BROKER_HOST: stack.brokerHost,
    BROKER_OIDC_ISSUER: brokerEnv.BROKER_OIDC_ISSUER || stack.oidcIssuer,
  };
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
      return `${key}="${value.replace(/[\\"$]/g, (c) => `\\${c}`)}"`;
    });
  const header = `# Rendered by agentkeys broker render (${stack.name} stack) from ${stack.brokerEnvFile}. Mode 0600.`;
  return `${header}\n${lines.join('\n')}\n`;
}
