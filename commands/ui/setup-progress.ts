// The setup runner's steps as listr2 tasks (the only home of listr2, beside chalk and prompts).
import { Listr } from 'listr2';
import type { RunContext, StepRun } from '../../src/steps/runner.js';
import type { Step } from '../../src/steps/step.js';

/** Where a wait reports to: the listr task of the step that is running. */
export interface WaitProgress {
  onWait?: (num: number, message: string) => void;
}

export async function runWithListr<C extends RunContext>(
  run: StepRun<C>,
  steps: readonly Step<C>[],
  progress: WaitProgress,
): Promise<void> {
  let failed = false;
  const tasks = new Listr(
    steps.map((step) => ({
      title: `${String(step.num).padStart(2)} ${step.title}`,
      skip: () => failed && 'skipped: an earlier step failed',
      task: async (_: unknown, task: { title: string; skip: (m: string) => void; output: string }) => {
        progress.onWait = (num, message) => {
          if (num === step.num) task.output = message;
        };
        const record = await run.run(step);
        const label = `${String(step.num).padStart(2)} ${step.title}`;
        if (record.status === 'failed') {
          failed = true;
          throw new Error(`${label}: ${record.reason}${record.hint ? ` → ${record.hint}` : ''}`);
        }
        // A done step ends ✔ (never "SKIPPED" in a CI log); waiting ↓ with its reason once; blocked ✖.
        if (record.status === 'done' && record.changes.length === 0)
          task.title = `${label}: no change${record.summary ? ` (${record.summary})` : ''}`;
        else if (record.status === 'done') task.title = `${label}: ${record.changes.length} change(s)`;
        else if (record.status === 'pending') task.title = `${label}: ${record.changes.length} change(s) pending`;
        else if (record.status === 'blocked')
          throw new Error(`${label}: blocked: ${record.reason}${record.hint ? ` → ${record.hint}` : ''}`);
        // Waiting is not done: shown as skipped (↓), never with a ✔.
        else task.skip(`${label}: ${record.status}: ${record.reason}`);
      },
    })),
    {
      concurrent: false,
      exitOnError: false,
      // A terminal that reports no width (0 columns: some CI shells, a detached tmux) gets the
      // line-by-line renderer, not one that wraps every title into a column of one character.
      renderer: process.stdout.isTTY && (process.stdout.columns ?? 0) >= 40 ? 'default' : 'simple',
      rendererOptions: {},
    } as never,
  );
  await tasks.run().catch(() => undefined);
}
