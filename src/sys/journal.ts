// The last lines a systemd unit logged, for an alert: what broke, without logging in first.
import { spawnSync } from 'node:child_process';

const LINES = 20;

/** journalctl's last lines of the unit, or why there are none (no journalctl, no access). */
export function journalTail(unit: string): string {
  const r = spawnSync('journalctl', ['-u', unit, '-n', String(LINES), '-o', 'cat', '--no-pager'], {
    encoding: 'utf8',
    timeout: 10_000,
    maxBuffer: 1 << 20,
  });
  if (r.error) return `(no journal lines: ${r.error.message})`;
  const text = (r.stdout ?? '').trim();
  if (r.status !== 0 || text === '') return `(no journal lines for ${unit}${r.stderr ? `: ${r.stderr.trim()}` : ''})`;
  return text;
}
