// What `setup`, `broker setup` and `teardown` share: the banner that says TEST or PROD before any
// call, and one way to run numbered steps (--json or listr2 tasks, --wait polling, a receipt,
// the exit code). Not a command itself: the commands import it, never each other.
import { StepRun, type RunContext, type StepRecord } from '../src/steps/runner.js';
import type { Step } from '../src/steps/step.js';
import type { ExitCode } from '../src/errors.js';
import type { CommandContext } from './context.js';
import { printLine, style } from './ui/format.js';
import { runWithListr, type WaitProgress } from './ui/setup-progress.js';
import { stepsExitCode } from './ui/step-outcome.js';

/** `agentkeys setup: PROD stack, …`, printed before anything else (nothing with --json). */
export function printStackBanner(cmd: CommandContext, command: string, stackName: string, rest: string): void {
  if (cmd.out.json) return;
  const which = stackName === 'test' ? style.warn('TEST') : style.bad('PROD');
  printLine(style.bold(`agentkeys ${command}: ${which} stack, ${rest}`));
}

export interface StepCommandRun {
  plan: boolean;
  verify: boolean;
  strict: boolean;
  /** --wait: seconds to keep re-checking a waiting step that resolves by itself. */
  waitSeconds: number;
  receiptFile: string;
  /** false: the checks run one after another (one SSH connection), not all at once. */
  prefetch: boolean;
  onEnd?: (record: StepRecord) => Promise<void>;
}

/** Runs the steps (stopping at the first that fails) and says how the command exits. */
export async function runStepCommand<C extends RunContext>(
  cmd: CommandContext,
  ctx: C,
  steps: Step<C>[],
  opts: StepCommandRun,
): Promise<{ records: StepRecord[]; pendingCount: number; exitCode: ExitCode }> {
  const progress: WaitProgress = {};
  const run = new StepRun(ctx, {
    plan: opts.plan,
    verify: opts.verify,
    prefetch: opts.prefetch,
    receiptFile: opts.receiptFile,
    waitSeconds: opts.waitSeconds,
    pollIntervalMs: Math.min(10_000, Math.max(500, opts.waitSeconds * 100)),
    onWait: (step, reason, left) => progress.onWait?.(step.num, `waiting (${left} s left): ${reason}`),
    ...(opts.onEnd ? { onEnd: opts.onEnd } : {}),
  });
  run.prefetch(steps);
  if (cmd.out.json) {
    for (const step of steps) if ((await run.run(step)).status === 'failed') break;
  } else await runWithListr(run, steps, progress);
  const { records, pendingCount } = await run.finish();
  return { records, pendingCount, exitCode: stepsExitCode(records, pendingCount, opts) };
}
