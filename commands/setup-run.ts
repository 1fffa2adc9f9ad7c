// The setup run shared by `agentkeys setup` and `agentkeys setup --sandbox` (which points it at
// a moto of its own): not a command itself, so neither command imports the other.
import { parseWholeNumber, refuseKeepWithoutSandbox } from './options.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { checkCaller, preflight, refuseFailedPreflight } from '../src/setup/preflight.js';
import { dohNsResolver } from '../src/broker/dns.js';
import { awsAuthForStack, createSetupContext, stackLockStore, type CallCounts } from '../src/context.js';
import { acquireStackLock } from '../src/setup/stack-lock.js';
import { hostname } from 'node:os';
import { interruptedRun, receiptPath, selectSteps, type StepRecord } from '../src/steps/runner.js';
import type { Stack } from '../src/config/stack.js';
import type { SetupContext, SetupEvent, Step } from '../src/setup/step.js';
import { STEPS } from '../src/setup/steps/index.js';
import { type CommandContext, type GlobalOptions, type StackFileOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';
import { printStackBanner, runStepCommand } from './step-command.js';
import { askYesNo } from './ui/prompt.js';
import { printPlan, printWaiting, summaryLine } from './ui/step-outcome.js';
export interface SetupOptions extends GlobalOptions, StackFileOptions {
  /** Take the stack's lock even from another live run (after checking it is dead). */
  forceUnlock?: boolean;
  /** Go ahead even when preflight finds problems (it is not run at all). */
  skipPreflight?: boolean;
  /** DNS-over-HTTPS JSON endpoint for the delegation check. */
  dohUrl?: string;
  /** Replace the daemon and SSH users' access keys (the new one written first, the old one deleted). */
  rotateAccessKeys?: boolean;
  test?: boolean;
  onlyStep?: string;
  fromStep?: string;
  toStep?: string;
  plan?: boolean;
  verify?: boolean;
  brokerEnvFile?: string;
  yes?: boolean;
  strict?: boolean;
  showSecret?: boolean;
  sandbox?: boolean;
  keep?: string;
  allowPrincipal?: string[];
  wait?: string;
  envDir?: string;
}

/** Flag values are checked before any AWS call (the sandbox seeds moto first). */
export function checkSetupFlags(options: SetupOptions): void {
  refuseKeepWithoutSandbox('setup', options);
  if (options.wait !== undefined) parseWholeNumber(options.wait, '--wait');
  if (options.dohUrl !== undefined && !/^https:\/\/[^/\s]+/.test(options.dohUrl))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--doh-url "${options.dohUrl}" is not an https URL`,
      hint: '--doh-url https://cloudflare-dns.com/dns-query (JSON answers), or leave the default',
    });
}

export async function runSetupFor(
  cmd: CommandContext,
  stack: Stack,
  options: SetupOptions,
  overrides: { fetchJson?: SetupContext['fetchJson'] } = {},
): Promise<ExitCode> {
  const out = cmd.out;
  const steps = selectSteps(STEPS, {
    ...(options.onlyStep ? { onlyStep: options.onlyStep } : {}),
    ...(options.fromStep ? { fromStep: options.fromStep } : {}),
    ...(options.toStep ? { toStep: options.toStep } : {}),
  });
  printStackBanner(
    cmd,
    'setup',
    stack.name,
    `account ${stack.accountId}, ${stack.region}${options.plan ? ' (plan: nothing is changed)' : ''}`,
  );
  const events: SetupEvent[] = [];
  const { ctx, calls } = await createSetupContext({
    stack,
    auth: awsAuthForStack(cmd.config),
    dir: cmd.config.dir,
    showSecret: options.showSecret === true,
    confirm: (q) => askYesNo(q, options.yes === true, out.json),
    report: (e) => events.push(e),
    ...(overrides.fetchJson ? { fetchJson: overrides.fetchJson } : {}),
  });
  const started = Date.now();
  if (options.rotateAccessKeys) ctx.rotateAccessKeys = new Set([stack.daemonUser, stack.sshUser]);
  ctx.state.caller = await checkCaller(ctx.aws, stack, allowList(options, cmd.config.allowedPrincipals));
  if (options.skipPreflight) {
    if (!out.json) printLine(style.warn('! preflight skipped (--skip-preflight)'));
  } else {
    // Behind AWS_ENDPOINT_URL (moto, LocalStack) Route 53 is not public DNS: no delegation to check.
    const resolveNs = cmd.config.endpoint ? undefined : dohNsResolver(options.dohUrl);
    refuseFailedPreflight(await preflight(ctx, resolveNs ? { resolveNs } : {}));
  }
  const how = {
    command: 'setup',
    caller: ctx.state.caller.arn,
    forceUnlock: options.forceUnlock === true,
    plan: options.plan === true,
  };
  return withStackLock(cmd, stack, how, () => runLocked(cmd, stack, ctx, calls, steps, events, options, started));
}

async function runLocked(
  cmd: CommandContext,
  stack: Stack,
  ctx: SetupContext,
  calls: CallCounts,
  steps: Step[],
  events: SetupEvent[],
  options: SetupOptions,
  started: number,
): Promise<ExitCode> {
  const out = cmd.out;
  const waitSeconds = options.wait === undefined ? 0 : parseWholeNumber(options.wait, '--wait');
  const receiptFile = receiptPath(cmd.config.dir, stack.name);
  const interrupted = await interruptedRun(receiptFile);
  if (interrupted && !out.json) {
    const last = interrupted.steps[interrupted.steps.length - 1];
    printLine(
      style.warn(
        `the previous run (started ${interrupted.startedAt}) stopped ` +
          `${last ? `after step ${last.num} ${last.id}` : 'before its first step'}; ` +
          `this run checks everything and resumes`,
      ),
    );
  }
  const { records, exitCode } = await runStepCommand(cmd, ctx, steps, {
    plan: options.plan === true,
    verify: options.verify === true,
    strict: options.strict === true,
    waitSeconds,
    receiptFile,
    prefetch: true,
    ...pauseHookForTests(),
  });
  const wallMs = Date.now() - started;
  if (out.json)
    printJson({
      ok: !records.some((r) => r.status === 'failed' || r.status === 'blocked'),
      stack: stack.name,
      plan: options.plan === true,
      steps: records,
      calls,
      wallMs,
      secrets: events.filter((e) => e.type === 'secret-written'),
    });
  else printOutcome(records, events, calls, wallMs, options, out.debug);
  return exitCode;
}

/**
 * Test hook (AGENTKEYS_TEST_PAUSE_AFTER_STEP=N): after step N and its receipt are written, say so on
 * stderr and wait forever, so a test can SIGKILL the run at a known point. Unset, it does nothing.
 */
function pauseHookForTests(): { onEnd?: (record: StepRecord) => Promise<void> } {
  const at = process.env.AGENTKEYS_TEST_PAUSE_AFTER_STEP;
  if (!at) return {};
  return {
    onEnd: async (record) => {
      if (String(record.num) !== at) return;
      process.stderr.write(`agentkeys: paused after step ${at}\n`);
      await new Promise<never>(() => undefined);
    },
  };
}

function printOutcome(
  records: StepRecord[],
  events: SetupEvent[],
  calls: CallCounts,
  wallMs: number,
  options: SetupOptions,
  debug: boolean,
): void {
  if (options.plan) printPlan(records);
  for (const e of events) {
    if (e.type !== 'secret-written') continue;
    printLine(
      `${style.ok('✔')} access key ${e.accessKeyId} for ${e.profile} written ` +
        `to ${e.file} [${e.profile}] ${style.dim('(0600)')}`,
    );
    if (e.secret) printLine(`  AWS_SECRET_ACCESS_KEY=${e.secret}`);
  }
  for (const r of records.filter((x) => x.verify !== undefined)) {
    printLine(
      r.verify === 'ok'
        ? `${style.ok('✔ verified')} ${r.num} ${r.id}`
        : `${style.bad('✖ verify failed')} ${r.num} ${r.id}: ${r.verify}`,
    );
  }
  const stuck = printWaiting(records);
  printLine(summaryLine(records, stuck, wallMs, `${calls.total} AWS calls (${calls.mutating} mutating)`));
  if (debug)
    printLine(
      style.dim(
        `  ${Object.entries(calls.byOperation)
          .map(([k, v]) => `${k}×${v}`)
          .join(' ')}`,
      ),
    );
}

function allowList(options: SetupOptions, fromSettings: readonly string[]): string[] {
  const list = [...(options.allowPrincipal ?? []), ...fromSettings];
  for (const p of list)
    if (!p.startsWith('arn:'))
      throw new UsageError({
        code: 'FLAG_INVALID',
        message: `allowed principal "${p}" is not an ARN pattern`,
        hint: 'arn:aws:iam::123456789012:user/agentkeys-admin or arn:aws:sts::*:assumed-role/Admin/*',
      });
  return list;
}

/**
 * Runs `fn` holding the stack's lock (src/setup/stack-lock.ts), released however `fn` ends; a
 * --plan changes nothing and takes none. A stale lock taken over is said on stderr.
 */
export async function withStackLock<T>(
  cmd: CommandContext,
  stack: Stack,
  how: { command: string; caller: string; forceUnlock: boolean; plan: boolean },
  fn: () => Promise<T>,
): Promise<T> {
  if (how.plan) return fn();
  const rerun = `${stack.rerunCommand ?? `agentkeys ${how.command}${stack.name === 'test' ? ' --test' : ''}`}`;
  const lock = await acquireStackLock(
    await stackLockStore(cmd.config, stack.region),
    { accountId: stack.accountId, stack: stack.name, rerun },
    {
      holder: how.caller,
      host: hostname(),
      pid: process.pid,
      command: `agentkeys ${how.command}`,
      startedAt: new Date().toISOString(),
    },
    { force: how.forceUnlock },
  );
  if (lock.replaced && !cmd.out.json)
    process.stderr.write(
      style.warn(
        `! took over the ${stack.name} stack's lock of ${lock.replaced.holder} on ${lock.replaced.host} ` +
          `(pid ${lock.replaced.pid}, since ${lock.replaced.startedAt})\n`,
      ),
    );
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}
