// The scheduled proofs a broker host runs on itself (issue 27): each check agentkeys already has,
// on a systemd timer, as the agentkeys user, with every failure handed to agentkeys-alert@ (SNS,
// a webhook, or the journal only). Pure: the units are rendered, broker setup installs them.
import type { Stack } from '../config/stack.js';
import { parseAlertTarget } from '../alert/target.js';
import { UsageError } from '../errors.js';
import { renderText } from '../sys/templates.js';
import type { RenderedFile } from './rendered-file.js';

/** What the broker env file says about the watches (ALERT_TARGET, AUDIT_LOG, AGENTKEYS_BIN). */
export interface WatchSettings {
  /** The agentkeys CLI on the host. */
  agentkeysBin: string;
  /** `sns:ARN`, `webhook:URL` or `journal` (src/alert/target.ts). */
  alertTarget: string;
  /** The broker's audit chain on the host (a JSON Lines path or a postgres:// URL). */
  auditLog: string;
}

export const DEFAULT_AGENTKEYS_BIN = '/usr/local/bin/agentkeys';
export const DEFAULT_AUDIT_LOG = '/var/lib/agentkeys/audit.jsonl';

export function watchSettings(brokerEnv: Readonly<Record<string, string>>, agentkeysBin?: string): WatchSettings {
  return {
    agentkeysBin: agentkeysBin ?? (brokerEnv.AGENTKEYS_BIN || DEFAULT_AGENTKEYS_BIN),
    alertTarget: brokerEnv.ALERT_TARGET || 'journal',
    auditLog: brokerEnv.AUDIT_LOG || DEFAULT_AUDIT_LOG,
  };
}

export const WATCH_IDS = ['verify', 'rotation', 'probe', 'doctor'] as const;

export interface Watch {
  id: (typeof WATCH_IDS)[number];
  what: string;
  /** How often, in words, and as systemd's OnCalendar. */
  timer: string;
  calendar: string;
  args: string[];
}

/** Where the watches' own files sit on the host (below its root). */
export interface WatchPaths {
  settingsFile: string;
  stackEnvFile: string;
  brokerEnvFile: string;
  signersFile: string;
  certDir: string;
}

export function watches(stack: Stack, settings: WatchSettings, paths: WatchPaths): Watch[] {
  const test = stack.name === 'test' ? ['--test'] : [];
  const stackFiles = ['--stack-env', paths.stackEnvFile, '--broker-env-file', paths.brokerEnvFile];
  return [
    {
      id: 'verify',
      what: "verify-audit of the broker's audit chain against the witness",
      timer: 'hourly',
      calendar: 'hourly',
      args: ['verify-audit', '--log', settings.auditLog, '--witness', `s3://${stack.witness.bucket}/audit`],
    },
    {
      id: 'rotation',
      what: `keys should-rotate of the audit key (${stack.kmsAuditAlias}): fails when a rotation is due`,
      timer: 'daily',
      calendar: 'daily',
      args: ['keys', 'should-rotate', '--key', `kms:${stack.kmsAuditAlias}`, '--fail-if-due'],
    },
    {
      id: 'probe',
      what: "broker probe of every hostname, and the served certificate against certbot's newest",
      timer: 'every 15 min',
      calendar: '*:0/15',
      args: ['broker', 'probe', ...test, ...stackFiles, '--connect-to', '127.0.0.1:443', '--cert-dir', paths.certDir],
    },
    {
      id: 'doctor',
      what: 'doctor --ci: REQUIRE_KMS resolves to a KMS key',
      timer: 'every 15 min',
      calendar: '*:0/15',
      args: ['doctor', '--ci'],
    },
  ];
}

/** A command line for ExecStart: each word checked (no quoting games), % escaped for systemd. */
function execLine(words: readonly string[]): string {
  for (const w of words)
    if (!/^[\w@%+=:,./-]+$/.test(w))
      throw new UsageError({
        code: 'BROKER_ENV_VALUE_INVALID',
        message: `"${w}" cannot be a word of a systemd ExecStart line (spaces, quotes or shell characters)`,
        hint: 'use paths and URLs without spaces or quotes in AGENTKEYS_BIN, AUDIT_LOG and ALERT_TARGET',
      });
  // %i alone is systemd's own specifier (the alert unit's instance); every other % is literal.
  return words.map((w) => (w === '%i' ? w : w.replace(/%/g, '%%'))).join(' ');
}

/**
 * The watch units and timers, the alert unit, the settings file agentkeys reads on the host, and
 * certbot's deploy hook that reloads nginx after a renewal.
 */
export function renderWatchFiles(stack: Stack, settings: WatchSettings, paths: WatchPaths): RenderedFile[] {
  const target = parseAlertTarget(settings.alertTarget, `ALERT_TARGET in ${stack.brokerEnvFile}`);
  const bin = settings.agentkeysBin;
  const global = ['--settings', paths.settingsFile];
  const files: RenderedFile[] = [];
  for (const w of watches(stack, settings, paths)) {
    const vars = { stack: stack.name, id: w.id, what: w.what, timer: w.timer, calendar: w.calendar };
    files.push(
      {
        path: `etc/systemd/system/agentkeys-watch-${w.id}.service`,
        content: renderText('host/watch.service', { ...vars, command: execLine([bin, ...global, ...w.args]) }),
        mode: 0o644,
      },
      {
        path: `etc/systemd/system/agentkeys-watch-${w.id}.timer`,
        content: renderText('host/watch.timer', vars),
        mode: 0o644,
      },
    );
  }
  // %i is systemd's: the failed unit's name. The target (checked above) reaches the alert through
  // ALERT_TARGET in broker.env (0600), never the unit file or a command line: a webhook's URL may
  // carry its token.
  const alert = [bin, ...global, 'alert', '--unit', '%i'];
  files.push(
    {
      path: 'etc/systemd/system/agentkeys-alert@.service',
      content: renderText('host/alert.service', {
        stack: stack.name,
        envFile: paths.brokerEnvFile,
        alertKind: { sns: 'an SNS topic', webhook: 'a webhook', journal: 'nowhere else' }[target.kind],
        command: execLine(alert),
      }),
      mode: 0o644,
    },
    { path: 'etc/agentkeys/watch.env', content: settingsFile(stack, paths), mode: 0o644 },
    {
      path: 'etc/letsencrypt/renewal-hooks/deploy/agentkeys-reload-nginx',
      content: renderText('host/certbot-deploy-hook.sh', { stack: stack.name }),
      mode: 0o755,
    },
  );
  return files;
}

/** agentkeys' settings on the host: no secrets (the instance profile is the credential). */
function settingsFile(stack: Stack, paths: WatchPaths): string {
  return [
    `# Rendered by agentkeys broker render (${stack.name} stack): the watches' agentkeys settings.`,
    `AWS_REGION=${stack.region}`,
    `AGENTKEYS_DIR=/var/lib/agentkeys`,
    `AGENTKEYS_SIGNERS=${paths.signersFile}`,
    'REQUIRE_KMS=true',
    `AUDIT_SIGNING_KMS_KEY_ID=${stack.kmsAuditAlias}`,
    '',
  ].join('\n');
}
