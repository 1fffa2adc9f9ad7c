import { isAgentkeysError } from '../errors.js';
import type { CheckRecord, DoctorCheck, DoctorContext, Outcome } from './check.js';

export interface DoctorReport {
  healthy: boolean;
  checks: CheckRecord[];
}

/**
 * Runs every check once, each as soon as the checks it needs are done (independent ones overlap,
 * so a slow HTTPS probe does not hold up the KMS checks). A check that throws fails with the
 * error's message and hint; a check whose needs did not pass is skipped and says which.
 */
export async function runDoctor(
  ctx: DoctorContext,
  checks: readonly DoctorCheck[],
  onRecord?: (r: CheckRecord) => void,
): Promise<DoctorReport> {
  const running = new Map<string, Promise<CheckRecord>>();
  const start = (check: DoctorCheck): Promise<CheckRecord> => {
    let p = running.get(check.id);
    if (!p) {
      p = runOne(ctx, check, checks, start).then((r) => (onRecord?.(r), r));
      running.set(check.id, p);
    }
    return p;
  };
  const records = await Promise.all(checks.map(start));
  return { healthy: records.every((r) => r.status !== 'fail'), checks: records };
}

async function runOne(
  ctx: DoctorContext,
  check: DoctorCheck,
  all: readonly DoctorCheck[],
  start: (c: DoctorCheck) => Promise<CheckRecord>,
): Promise<CheckRecord> {
  const needs = (check.needs ?? []).map((id) => all.find((c) => c.id === id)).filter((c) => c !== undefined);
  const before = await Promise.all(needs.map(start));
  const t0 = Date.now();
  const blocked = before.filter((r) => r.status === 'fail' || r.status === 'skip');
  const outcome: Outcome =
    blocked.length > 0
      ? { status: 'skip', detail: `needs ${blocked.map((r) => r.id).join(', ')}` }
      : await check.run(ctx).catch((err: unknown): Outcome => ({
          status: 'fail',
          detail: err instanceof Error ? err.message : String(err),
          fix: (isAgentkeysError(err) && err.hint) || 'run it again with --debug',
        }));
  return { id: check.id, group: check.group, title: check.title, ...outcome, durationMs: Date.now() - t0 };
}
