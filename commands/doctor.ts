import { parseWholeNumber } from './options.js';
import { isAgentkeysError, type AgentkeysError, type ExitCode } from '../src/errors.js';
import { doctorChecks } from '../src/doctor/index.js';
import { httpsProbe } from '../src/doctor/http.js';
import { runDoctor, type DoctorReport } from '../src/doctor/run.js';
import type { CheckRecord, DoctorContext } from '../src/doctor/check.js';
import type { SetupContext } from '../src/setup/step.js';
import { createContext, loadStackOf, type GlobalOptions, type StackFileOptions } from './context.js';
import { readOnlySetupContext } from '../src/context.js';
import { printJson, printLine, style } from './ui/format.js';

export interface DoctorOptions extends GlobalOptions, StackFileOptions {
  test?: boolean;
  ci?: boolean;
  pem?: string;
  log?: string;
  intervalDays?: string;
  maxAgeDays?: string;
}

/** Read-only: exit 0 when every check passes (warnings allowed), 1 when any fails. */
export async function runDoctorCommand(options: DoctorOptions): Promise<ExitCode> {
  const cmd = await createContext({ ...options });
  const ctx: DoctorContext = {
    config: cmd.config,
    http: httpsProbe(),
    now: new Date(),
    rotationPolicy: {
      intervalDays: parseWholeNumber(options.intervalDays ?? '90', '--interval-days', { min: 1 }),
      maxAgeDays: parseWholeNumber(options.maxAgeDays ?? '365', '--max-age-days', { min: 1 }),
    },
    openKmsSigner: (ref, kid) => cmd.services.openKmsSigner(ref, kid ? { kid } : {}), // fresh from KMS
    ...(options.ci ? {} : await stackContext(options, cmd.config)),
  };
  const report = await runDoctor(
    ctx,
    doctorChecks({ ci: options.ci === true, ...(options.pem ? { pem: options.pem } : {}) }),
  );
  if (cmd.out.json) printJson({ ok: report.healthy, healthy: report.healthy, checks: report.checks });
  else if (options.ci) printCi(report.checks[0]!);
  else printReport(report);
  return report.healthy ? 0 : 1;
}

async function stackContext(
  options: DoctorOptions,
  config: Awaited<ReturnType<typeof createContext>>['config'],
): Promise<{ setup: SetupContext } | { stackError: AgentkeysError }> {
  try {
    return { setup: await readOnlySetupContext(await loadStackOf(options), config) };
  } catch (err) {
    if (isAgentkeysError(err)) return { stackError: err };
    throw err;
  }
}

const MARK = {
  ok: style.ok('✔'),
  warn: style.warn('!'),
  fail: style.bad('✖'),
  skip: style.dim('-'),
} as const;

function printReport(report: DoctorReport): void {
  let group = '';
  for (const r of report.checks) {
    if (r.group !== group) printLine(style.bold((group = r.group)));
    printLine(`  ${MARK[r.status]} ${r.id.padEnd(24)} ${r.status === 'skip' ? style.dim(r.detail) : r.detail}`);
    if (r.fix && r.status !== 'ok') printLine(`    ${style.dim('fix:')} ${r.fix}`);
  }
  const failed = report.checks.filter((r) => r.status === 'fail').length;
  const warned = report.checks.filter((r) => r.status === 'warn').length;
  printLine(
    report.healthy
      ? style.ok(`healthy${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}`)
      : style.bad(`unhealthy: ${failed} check(s) failed`),
  );
}

function printCi(r: CheckRecord): void {
  const fix = r.fix && r.status !== 'ok' ? ` (fix: ${r.fix})` : '';
  printLine(`${r.status === 'ok' ? 'PASS' : 'FAIL'} ${r.id}: ${r.detail}${fix}`);
}
