import { parseWholeNumber } from './options.js';
import { isAgentkeysError, UsageError, type AgentkeysError, type ExitCode } from '../src/errors.js';
import { doctorChecks } from '../src/doctor/index.js';
import { httpsProbe } from '../src/doctor/http.js';
import { runDoctor, type DoctorReport } from '../src/doctor/run.js';
import type { AgentidpTarget, CheckRecord, DoctorContext } from '../src/doctor/check.js';
import { readEnvFile } from '../src/config/env-file.js';
import type { SetupContext } from '../src/setup/step.js';
import type { Stack } from '../src/config/stack.js';
import type { HttpProbe } from '../src/doctor/http.js';
import { loadStackOf, type CommandContext, type GlobalOptions, type StackFileOptions } from './context.js';
import { readOnlySetupContext } from '../src/context.js';
import { printJson, printLine, style } from './ui/format.js';
import { prometheusText } from '../src/doctor/metrics.js';
import { assertParentDirExists, writeFileAtomic } from '../src/sys/fs.js';

export interface DoctorOptions extends GlobalOptions, StackFileOptions {
  test?: boolean;
  ci?: boolean;
  pem?: string;
  log?: string;
  intervalDays?: string;
  maxAgeDays?: string;
  /** AgentIdP's env file to check (and, with agentidpUrl, the running service to probe). */
  agentidp?: string;
  agentidpUrl?: string;
  /** The tenant-isolation proof with IAM's policy simulator. */
  isolation?: boolean;
  /** Also write the results as Prometheus gauges (node_exporter's textfile format) to this file. */
  prometheus?: string;
}

/** Where doctor looks: a stack other than the env files' (the sandbox's), and no broker host. */
export interface DoctorTarget {
  stack?: Stack;
  /** Why no broker host serves HTTPS: its checks are skipped, and nothing is fetched. */
  noBrokerHost?: string;
}

/** Read-only: exit 0 when every check passes (warnings allowed), 1 when any fails. */
export async function runDoctorFor(
  cmd: CommandContext,
  options: DoctorOptions,
  target: DoctorTarget = {},
): Promise<ExitCode> {
  const agentidp = options.agentidp ? await agentidpTarget(options.agentidp, options.agentidpUrl) : undefined;
  const ctx: DoctorContext = {
    // With --agentidp the database, Redis and JWT checks read AgentIdP's own values.
    config: agentidp ? withAgentidpValues(cmd.config, agentidp.env) : cmd.config,
    ...(agentidp ? { agentidp } : {}),
    http: target.noBrokerHost ? unreachable(target.noBrokerHost) : httpsProbe(),
    now: new Date(),
    rotationPolicy: {
      intervalDays: parseWholeNumber(options.intervalDays ?? '90', '--interval-days', { min: 1 }),
      maxAgeDays: parseWholeNumber(options.maxAgeDays ?? '365', '--max-age-days', { min: 1 }),
    },
    openKmsSigner: (ref, kid) => cmd.services.openKmsSigner(ref, kid ? { kid } : {}), // fresh from KMS
    ...(options.ci ? {} : await stackContext(options, cmd.config, target.stack)),
  };
  const report = await runDoctor(
    ctx,
    doctorChecks({
      ci: options.ci === true,
      isolation: options.isolation === true,
      ...(options.pem ? { pem: options.pem } : {}),
      ...(target.noBrokerHost ? { noBrokerHost: target.noBrokerHost } : {}),
    }),
  );
  // node_exporter's textfile collector reads the file whole: it is replaced atomically, never appended to.
  if (options.prometheus) {
    await assertParentDirExists(options.prometheus, '--prometheus');
    await writeFileAtomic(options.prometheus, prometheusText(report, ctx.now), { mode: 0o644 });
  }
  if (cmd.out.json) printJson({ ok: report.healthy, healthy: report.healthy, checks: report.checks });
  else if (options.ci) printCi(report.checks[0]!);
  else printReport(report);
  return report.healthy ? 0 : 1;
}

/** An HTTP probe for a deployment with no broker host: every read fails with the reason. */
function unreachable(reason: string): HttpProbe {
  const refuse = async (): Promise<never> => {
    throw new Error(reason);
  };
  return { get: refuse, certificate: refuse };
}

async function stackContext(
  options: DoctorOptions,
  config: CommandContext['config'],
  stack: Stack | undefined,
): Promise<{ setup: SetupContext } | { stackError: AgentkeysError }> {
  try {
    return { setup: await readOnlySetupContext(stack ?? (await loadStackOf(options)), config) };
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

async function agentidpTarget(file: string, url: string | undefined): Promise<AgentidpTarget> {
  if (url !== undefined && !/^https?:\/\/[^/\s]+/.test(url))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--agentidp-url "${url}" is not an http(s) URL`,
      hint: '--agentidp-url http://10.0.1.5:3000',
    });
  const env = await readEnvFile(file, {}, '--agentidp');
  return { file, env, ...(url ? { url: url.replace(/\/+$/, '') } : {}) };
}

function withAgentidpValues(config: CommandContext['config'], env: Readonly<Record<string, string>>) {
  return {
    ...config,
    ...(env.DATABASE_URL ? { databaseUrl: env.DATABASE_URL } : {}),
    ...(env.REDIS_URL ? { redisUrl: env.REDIS_URL } : {}),
    ...(env.JWT_PRIVATE_KEY ? { jwtPrivateKey: env.JWT_PRIVATE_KEY } : {}),
    ...(env.JWT_PUBLIC_KEY ? { jwtPublicKey: env.JWT_PUBLIC_KEY } : {}),
  };
}
