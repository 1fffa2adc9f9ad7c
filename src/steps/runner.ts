import { readFile } from 'node:fs/promises';
import * as path from 'node:path';
import { AgentkeysError, UsageError } from '../errors.js';
import { writeFileAtomic } from '../sys/fs.js';
import { planned, type Change, type PlannedChange, type Step, type StepState } from './step.js';

/** What the runner itself reads of a context: the stack, for the receipt. */
export interface RunContext {
  stack: { name: string; accountId?: string };
}

export type StepStatus = 'done' | 'waiting' | 'blocked' | 'failed' | 'pending';

/** One --json record per step. */
export interface StepRecord {
  num: number;
  id: string;
  title: string;
  status: StepStatus;
  /** Applied changes (or, with --plan, the changes that would be made). */
  changes: PlannedChange[];
  durationMs: number;
  summary?: string;
  reason?: string;
  hint?: string;
  error?: { code: string; message: string };
  verify?: string;
}

export interface Selection {
  onlyStep?: string;
  fromStep?: string;
  toStep?: string;
}

/** --only-step N|ID, --from-step N, --to-step N; the summary always runs when in range. */
export function selectSteps<S extends Pick<Step<unknown>, 'num' | 'id'>>(all: readonly S[], sel: Selection): S[] {
  const find = (ref: string, flag: string): S => {
    const step = all.find((s) => String(s.num) === ref || s.id === ref);
    if (!step)
      throw new UsageError({
        code: 'UNKNOWN_STEP',
        message: `${flag} "${ref}" is not a step`,
        hint: `steps: ${all.map((s) => `${s.num} ${s.id}`).join(', ')}`,
      });
    return step;
  };
  if (sel.onlyStep !== undefined) {
    if (sel.fromStep !== undefined || sel.toStep !== undefined)
      throw new UsageError({
        code: 'FLAG_CONFLICT',
        message: '--only-step cannot be combined with --from-step/--to-step',
      });
    return [find(sel.onlyStep, '--only-step')];
  }
  const from = sel.fromStep === undefined ? all[0]!.num : find(sel.fromStep, '--from-step').num;
  const to = sel.toStep === undefined ? all[all.length - 1]!.num : find(sel.toStep, '--to-step').num;
  if (from > to)
    throw new UsageError({ code: 'FLAG_CONFLICT', message: `--from-step ${from} is after --to-step ${to}` });
  return all.filter((s) => s.num >= from && s.num <= to);
}

export interface RunOptions {
  plan: boolean;
  verify: boolean;
  /** --wait: seconds to keep re-checking a pollable waiting step before giving up. */
  waitSeconds?: number;
  pollIntervalMs?: number;
  /** Progress of a wait: what it waits for, and how long is left. */
  onWait?: (step: Pick<Step<unknown>, 'num' | 'id'>, reason: string, secondsLeft: number) => void;
  receiptFile?: string;
  onStart?: (step: Pick<Step<unknown>, 'num' | 'id'>) => void;
  /** Start every check at once (setup's AWS reads); false runs them in order (one SSH connection). */
  prefetch?: boolean;
  onEnd?: (record: StepRecord) => void | Promise<void>;
}

export interface RunResult {
  records: StepRecord[];
  /** 0 done/waiting, 1 failed/blocked (or waiting with --strict), 3 a probe failed, 4 plan has changes. */
  pendingCount: number;
}

/**
 * Checks each selected step, applies what is pending, checks again and fails a step that did not
 * converge. A receipt is written after every step, so a failed or killed run shows what
 * succeeded; the next run resumes because every check is read-only and every apply idempotent.
 */
export async function runSteps<C extends RunContext>(ctx: C, steps: Step<C>[], opts: RunOptions): Promise<RunResult> {
  const run = new StepRun(ctx, opts);
  run.prefetch(steps);
  for (const step of steps) {
    const record = await run.run(step);
    if (record.status === 'failed') break; // later steps build on this one
  }
  return run.finish();
}

/** The same loop, one step at a time, for reporters that drive it (listr2 tasks). */
export class StepRun<C extends RunContext = RunContext> {
  readonly records: StepRecord[] = [];
  private readonly startedAt = new Date().toISOString();
  private readonly prefetched = new Map<Step<C>, Promise<StepState>>();
  private changed = false;

  constructor(
    private readonly ctx: C,
    private readonly opts: RunOptions,
  ) {}

  /**
   * Starts every step's read-only check at once. A converged account (the common re-run) then
   * costs the slowest check, not their sum. The results are used only until some step changes
   * something; after that every check runs fresh, in order, because it may depend on the change.
   */
  prefetch(steps: readonly Step<C>[]): void {
    if (this.opts.prefetch === false) return;
    for (const step of steps) {
      const pending = step.check(this.ctx);
      pending.catch(() => undefined); // consumed (and rethrown) by run()
      this.prefetched.set(step, pending);
    }
  }

  async run(step: Step<C>): Promise<StepRecord> {
    this.opts.onStart?.(step);
    const cached = this.changed ? undefined : this.prefetched.get(step);
    const record = await runOne(this.ctx, step, this.opts, cached);
    if (record.changes.length > 0 && record.status !== 'pending') this.changed = true;
    this.records.push(record);
    if (this.opts.receiptFile && !this.opts.plan)
      await saveReceipt(this.opts.receiptFile, this.ctx, this.startedAt, this.records);
    await this.opts.onEnd?.(record);
    return record;
  }

  /** Marks the receipt complete, so the next run knows this one was not killed. */
  async finish(): Promise<RunResult> {
    if (this.opts.receiptFile && !this.opts.plan)
      await saveReceipt(this.opts.receiptFile, this.ctx, this.startedAt, this.records, new Date().toISOString());
    return this.result();
  }

  result(): RunResult {
    return { records: this.records, pendingCount: this.records.filter((r) => r.status === 'pending').length };
  }
}

export interface Receipt {
  stack: string;
  startedAt: string;
  updatedAt: string;
  finishedAt?: string;
  steps: StepRecord[];
}

/** The last run's receipt, if it stopped before finishing (killed, crashed, power cut). */
export async function interruptedRun(file: string): Promise<Receipt | undefined> {
  try {
    const receipt = JSON.parse(await readFile(file, 'utf8')) as Receipt;
    return receipt.finishedAt ? undefined : receipt;
  } catch {
    return undefined;
  }
}

async function runOne<C extends RunContext>(
  ctx: C,
  step: Step<C>,
  opts: RunOptions,
  cached?: Promise<StepState>,
): Promise<StepRecord> {
  const t0 = Date.now();
  const base = { num: step.num, id: step.id, title: step.title };
  const finish = (
    state: StepState | { status: 'failed'; err: AgentkeysError },
    applied: readonly Change[] = [],
  ): StepRecord => {
    const changes = applied.map(planned);
    const durationMs = Date.now() - t0;
    switch (state.status) {
      case 'done':
        return { ...base, status: 'done', changes, durationMs, summary: state.summary };
      case 'pending':
        return { ...base, status: 'pending', changes: state.changes.map(planned), durationMs };
      case 'waiting':
        return { ...base, status: 'waiting', changes, durationMs, reason: state.reason, hint: state.hint };
      case 'blocked':
        return {
          ...base,
          status: 'blocked',
          changes,
          durationMs,
          reason: state.reason,
          ...(state.hint ? { hint: state.hint } : {}),
        };
      case 'failed':
        return {
          ...base,
          status: 'failed',
          changes,
          durationMs,
          reason: state.err.message,
          ...(state.err.hint ? { hint: state.err.hint } : {}),
          error: { code: state.err.code, message: state.err.message },
        };
    }
  };
  let changes: Change[] = [];
  try {
    const first = await (cached ?? step.check(ctx));
    const before = opts.plan ? first : await waitWhileWaiting(ctx, step, first, opts);
    if (before.status !== 'pending' || opts.plan) return await withVerify(ctx, step, opts, finish(before));
    changes = before.changes;
    for (const c of changes) await c.apply();
    // A change that starts something long (a build on the host) leaves the step waiting: --wait
    // covers that wait too.
    const after = await waitWhileWaiting(ctx, step, await step.check(ctx), opts);
    if (after.status === 'pending') {
      throw new AgentkeysError({
        code: 'STEP_NOT_CONVERGED',
        message:
          `step ${step.num} ${step.id} still has ${after.changes.length} pending ` +
          `change(s) after apply: ${after.changes.map((c) => `${c.action} ${c.resource}`).join('; ')}`,
        hint: 'run it again with --debug; if it persists, the account has a rule agentkeys does not model',
      });
    }
    return await withVerify(ctx, step, opts, finish(after, changes));
  } catch (err) {
    if (!(err instanceof AgentkeysError)) throw err;
    return finish({ status: 'failed', err }, changes);
  }
}

/** Re-checks a pollable waiting step until it is not waiting or the --wait deadline passes. */
async function waitWhileWaiting<C>(ctx: C, step: Step<C>, state: StepState, opts: RunOptions): Promise<StepState> {
  const seconds = opts.waitSeconds ?? 0;
  if (state.status !== 'waiting' || !step.pollable || seconds <= 0) return state;
  const deadline = Date.now() + seconds * 1000;
  let current: StepState = state;
  while (current.status === 'waiting' && Date.now() < deadline) {
    opts.onWait?.(step, current.reason, Math.ceil((deadline - Date.now()) / 1000));
    await new Promise((r) =>
      setTimeout(r, Math.min(opts.pollIntervalMs ?? 10_000, Math.max(0, deadline - Date.now()))),
    );
    current = await step.check(ctx);
  }
  if (current.status === 'waiting') return { ...current, reason: `${current.reason} (gave up after ${seconds} s)` };
  return current;
}

async function withVerify<C>(ctx: C, step: Step<C>, opts: RunOptions, record: StepRecord): Promise<StepRecord> {
  if (!opts.verify || !step.verify || record.status !== 'done') return record;
  const failure = await step.verify(ctx);
  return failure ? { ...record, verify: failure } : { ...record, verify: 'ok' };
}

async function saveReceipt(
  file: string,
  ctx: RunContext,
  startedAt: string,
  records: StepRecord[],
  finishedAt?: string,
): Promise<void> {
  const receipt = {
    stack: ctx.stack.name,
    ...(ctx.stack.accountId ? { account: ctx.stack.accountId } : {}),
    startedAt,
    updatedAt: new Date().toISOString(),
    ...(finishedAt ? { finishedAt } : {}),
    steps: records,
  };
  await writeFileAtomic(file, `${JSON.stringify(receipt, null, 2)}\n`);
}

export function receiptPath(dir: string, stack: string): string {
  return path.join(dir, 'setup', `${stack}.receipt.json`);
}
