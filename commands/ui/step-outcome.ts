// What setup and broker setup print after their steps: the plan (with file diffs), the steps
// that wait or are blocked with their fix, one summary line; and the exit code both share.
import type { ExitCode } from '../../src/errors.js';
import type { StepRecord } from '../../src/steps/runner.js';
import { printLine, style } from './format.js';

export function printPlan(records: readonly StepRecord[]): void {
  for (const r of records.filter((x) => x.status === 'pending')) {
    printLine(`  ${style.bold(`${r.num} ${r.id}`)}`);
    for (const c of r.changes) {
      printLine(`    ${style.warn(c.action.padEnd(9))} ${c.resource}${c.detail ? style.dim(` (${c.detail})`) : ''}`);
      if (c.diff) for (const line of diffBody(c.diff)) printLine(`      ${colourDiff(line)}`);
    }
  }
}

/** The diff without jsdiff's "Index:" and "====" header lines. */
function diffBody(diff: string): string[] {
  return diff.split('\n').filter((l) => l !== '' && !l.startsWith('Index:') && !/^=+$/.test(l));
}

function colourDiff(line: string): string {
  if (line.startsWith('+') && !line.startsWith('+++')) return style.ok(line);
  if (line.startsWith('-') && !line.startsWith('---')) return style.bad(line);
  return style.dim(line);
}

/** The waiting and blocked steps with their reason and fix; returns how many there were. */
export function printWaiting(records: readonly StepRecord[]): number {
  const stuck = records.filter((r) => r.status === 'waiting' || r.status === 'blocked');
  for (const r of stuck)
    printLine(
      `${r.status === 'waiting' ? style.warn('… waiting') : style.bad('✖ blocked')} ` +
        `${r.num} ${r.id}: ${r.reason}\n    → ${r.hint ?? ''}`,
    );
  return stuck.length;
}

export function summaryLine(records: readonly StepRecord[], stuck: number, wallMs: number, cost: string): string {
  const changed = records.reduce((n, r) => n + (r.status === 'pending' ? 0 : r.changes.length), 0);
  const failed = records.filter((r) => r.status === 'failed').length;
  return style.dim(
    `${records.length} step(s) in ${(wallMs / 1000).toFixed(1)} s: ${changed} change(s) applied, ` +
      `${failed > 0 ? `${failed} failed, ` : ''}${stuck} waiting or blocked; ${cost}`,
  );
}

export function printStepOutcome(records: readonly StepRecord[], plan: boolean, cost: string, wallMs: number): void {
  if (plan) printPlan(records);
  const stuck = printWaiting(records);
  printLine(summaryLine(records, stuck, wallMs, cost));
}

/** 4 a plan with changes; 1 failed or blocked (or waiting with --strict); 3 a probe failed; else 0. */
export function stepsExitCode(
  records: readonly StepRecord[],
  pendingCount: number,
  opts: { plan: boolean; strict: boolean },
): ExitCode {
  const bad = records.some((r) => r.status === 'failed' || r.status === 'blocked');
  if (opts.plan) return pendingCount > 0 ? 4 : bad ? 1 : 0;
  if (bad) return 1;
  if (records.some((r) => r.verify !== undefined && r.verify !== 'ok')) return 3;
  if (opts.strict && records.some((r) => r.status === 'waiting')) return 1;
  return 0;
}
