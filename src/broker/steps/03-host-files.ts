// Step 3: every rendered file but the sshd drop-in (step 2 owns it): systemd units, nginx
// Phase A and B per host, /etc/agentkeys/broker.env and each worker's env file. A file is
// written only when its content or mode differs, with a unified diff in --plan (values of a 0600
// file are redacted unless --show-secret). All writes go in one round trip, then systemd re-reads its units.
import { createTwoFilesPatch } from 'diff';
import { change, done, once, pending, type Step } from '../../steps/step.js';
import { onHost, type BrokerContext } from '../context.js';
import { hostRun, readHostFiles, writeFileScript, type HostFile } from '../host-files.js';
import type { RenderedFile } from '../render.js';
import { SSHD_DROP_IN } from './02-instance-connect.js';

export const hostFiles: Step<BrokerContext> = {
  num: 3,
  id: 'host-files',
  title: 'systemd units, nginx Phase A/B sites and broker.env',
  async check(ctx) {
    const files = ctx.files.filter((f) => f.path !== SSHD_DROP_IN);
    const current = await readHostFiles(
      ctx.shell,
      files.map((f) => onHost(ctx, f.path)),
    );
    const stale = files.filter((f) => differs(current.get(onHost(ctx, f.path))!, f));
    if (stale.length === 0) return done(`${files.length} file(s) as rendered`);
    const writeAll = once(async () => {
      const units = stale.filter((f) => f.path.endsWith('.service'));
      const script = [
        'set -e',
        ...stale.map((f) => writeFileScript(onHost(ctx, f.path), f.content, f.mode)),
        ...(units.length > 0 ? ['systemctl daemon-reload'] : []),
      ].join('\n');
      await hostRun(ctx.shell, script, `write ${stale.length} file(s)`);
      for (const f of stale) for (const s of servicesReading(ctx, f)) ctx.state.restart.add(s);
    });
    return pending(
      stale.map((f) => {
        const now = current.get(onHost(ctx, f.path))!;
        const diff = fileDiff(f, now, ctx.showSecret);
        return {
          ...change(now.kind === 'missing' ? 'create' : 'update', `/${f.path}`, writeAll, describe(now, f)),
          ...(diff ? { diff } : {}),
        };
      }),
    );
  },
};

function differs(now: HostFile, want: RenderedFile): boolean {
  return now.kind !== 'file' || now.content !== want.content || now.mode !== want.mode;
}

function describe(now: HostFile, want: RenderedFile): string {
  if (now.kind === 'missing') return `${want.content.split('\n').length - 1} lines, mode ${want.mode.toString(8)}`;
  if (now.kind === 'link') return `a symlink to ${now.target} becomes a file`;
  if (now.content === want.content) return `mode ${now.mode.toString(8)} → ${want.mode.toString(8)}`;
  return 'content differs';
}

/** The services a file change must restart: a unit its own service, the env file all of them. */
function servicesReading(ctx: BrokerContext, f: RenderedFile): string[] {
  if (f.path === 'etc/agentkeys/broker.env') return ctx.services.map((s) => s.name);
  const unit = /agentkeys-(.+)\.service$/.exec(f.path) ?? /^etc\/agentkeys\/(worker-.+)\.env$/.exec(f.path);
  return unit ? [unit[1]!] : [];
}

const ASSIGNMENT = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/gm;

/** A unified diff of the host's file against the rendered one; values of a 0600 file redacted. */
export function fileDiff(want: RenderedFile, now: HostFile, showSecret: boolean): string | undefined {
  // A new file's whole content would bury the changes that matter; its line count is in the detail.
  if (now.kind !== 'file' || now.content === want.content) return undefined;
  const before = now.content;
  const secret = !showSecret && want.mode === 0o600;
  const values = new Map([...before.matchAll(ASSIGNMENT)].map((m) => [m[1]!, m[2]!]));
  // A value that changed must still show as a changed line, without showing the value.
  const redact = (text: string, side: 'before' | 'after') =>
    secret
      ? text.replace(ASSIGNMENT, (_, key: string, value: string) =>
          side === 'after' && values.get(key) !== value ? `${key}=<redacted, changed>` : `${key}=<redacted>`,
        )
      : text;
  return createTwoFilesPatch(
    `host:/${want.path}`,
    `rendered:/${want.path}`,
    redact(before, 'before'),
    redact(want.content, 'after'),
    undefined,
    undefined,
    { context: 2 },
  );
}
