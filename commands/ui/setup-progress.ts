// The setup runner's steps as listr2 tasks (the only home of listr2, beside chalk and prompts).
import { Listr } from 'listr2';
import type { RunContext, StepRun } from '../../src/steps/runner.js';
import type { Step } from '../../src/steps/step.js';
import { printLine } from './format.js';

/** Where a wait reports to: the listr task of the step that is running. */
export interface WaitProgress {
  onWait?: (num: number, message: string) => void;
}

/** A step's line once it has run: ✔ done (or pending), ↓ waiting, ✖ failed or blocked. */
interface Outcome {
  glyph: '✔' | '↓' | '✖';
  line: string;
}

function outcomeOf(label: string, record: Awaited<ReturnType<StepRun<RunContext>['run']>>): Outcome {
  const hint = 'hint' in record && record.hint ? ` → ${record.hint}` : '';
  switch (record.status) {
    case 'failed':
      return { glyph: '✖', line: `${label}: ${record.reason}${hint}` };
    case 'blocked':
      return { glyph: '✖', line: `${label}: blocked: ${record.reason}${hint}` };
    case 'done':
      return {
        glyph: '✔',
        line:
          record.changes.length === 0
            ? `${label}: no change${record.summary ? ` (${record.summary})` : ''}`
            : `${label}: ${record.changes.length} change(s)`,
      };
    case 'pending':
      return { glyph: '✔', line: `${label}: ${record.changes.length} change(s) pending` };
    default:
      // Waiting is not done: ↓, never ✔; its reason and re-run command follow in the summary.
      return { glyph: '↓', line: `${label}: waiting` };
  }
}

const labelOf = (step: Step<never>) => `${String(step.num).padStart(2)} ${step.title}`;

/**
 * The steps with live progress: listr2 on a terminal of a sane width, otherwise one line per
 * step as it ends (CI logs, pipes, a terminal that reports 0 columns), never "SKIPPED".
 */
export async function runWithListr<C extends RunContext>(
  run: StepRun<C>,
  steps: readonly Step<C>[],
  progress: WaitProgress,
): Promise<void> {
  if (process.stdout.isTTY && (process.stdout.columns ?? 0) >= 40) return runOnTerminal(run, steps, progress);
  return runLineByLine(run, steps, progress);
}

async function runLineByLine<C extends RunContext>(
  run: StepRun<C>,
  steps: readonly Step<C>[],
  progress: WaitProgress,
): Promise<void> {
  let lastWait = { text: '', at: 0 };
  progress.onWait = (num, message) => {
    // A long wait reports when its reason changes, or every 30 s: a CI log stays readable.
    const reason = message.replace(/^waiting \(\d+ s left\): /, '');
    if (reason === lastWait.text && Date.now() - lastWait.at < 30_000) return;
    lastWait = { text: reason, at: Date.now() };
    printLine(`   ${String(num).padStart(2)} ${message}`);
  };
  for (const step of steps) {
    const record = await run.run(step);
    const outcome = outcomeOf(labelOf(step as Step<never>), record);
    printLine(`${outcome.glyph} ${outcome.line}`);
    if (record.status === 'failed') {
      for (const rest of steps.slice(steps.indexOf(step) + 1))
        printLine(`- ${labelOf(rest as Step<never>)}: not run (an earlier step failed)`);
      return;
    }
  }
}

async function runOnTerminal<C extends RunContext>(
  run: StepRun<C>,
  steps: readonly Step<C>[],
  progress: WaitProgress,
): Promise<void> {
  let failed = false;
  const tasks = new Listr(
    steps.map((step) => ({
      title: labelOf(step as Step<never>),
      skip: () => failed && 'skipped: an earlier step failed',
      task: async (_: unknown, task: { title: string; skip: (m: string) => void; output: string }) => {
        progress.onWait = (num, message) => {
          if (num === step.num) task.output = message;
        };
        const record = await run.run(step);
        const outcome = outcomeOf(labelOf(step as Step<never>), record);
        // A failure stops the run; a blocked step is ✖ too, but the steps after it still run.
        if (record.status === 'failed') failed = true;
        if (outcome.glyph === '✖') throw new Error(outcome.line);
        if (outcome.glyph === '↓') task.skip(outcome.line);
        else task.title = outcome.line;
      },
    })),
    { concurrent: false, exitOnError: false, renderer: 'default', rendererOptions: {} } as never,
  );
  await tasks.run().catch(() => undefined);
}
