// The step engine: a step checks read-only and returns its state; a pending state carries the
// changes that make it converge, each with its own apply(). src/steps/runner.ts runs them. Setup's
// AWS steps (src/setup) and the broker host's SSH steps (src/broker) are both built on this.

export type ChangeAction = 'create' | 'update' | 'delete' | 'write' | 'tag' | 'associate' | 'activate';

/** One planned change as the plan table and the --json records show it. */
export interface PlannedChange {
  action: ChangeAction;
  resource: string;
  detail?: string;
  /** A unified diff of a file the change rewrites (broker setup's --plan). */
  diff?: string;
}

/**
 * A change that carries its own apply(): the check that found it says how to make it, so no step
 * re-matches the display strings of its own plan. The runner applies a step's changes in order.
 */
export interface Change extends PlannedChange {
  apply(): Promise<void>;
  /** A deletion that removes data (bucket contents): teardown asks again, separately. */
  destroysData?: boolean;
}

export function change(action: ChangeAction, resource: string, apply: () => Promise<unknown>, detail?: string): Change {
  return { action, resource, ...(detail ? { detail } : {}), apply: async () => void (await apply()) };
}

/** Runs fn once however many changes share it (one Route 53 batch for many records, one key for two rows). */
export function once(fn: () => Promise<unknown>): () => Promise<void> {
  let running: Promise<unknown> | undefined;
  return async () => void (await (running ??= fn()));
}

/** The change without its apply, for records, receipts and --json. */
export const planned = ({ action, resource, detail, diff }: PlannedChange): PlannedChange => ({
  action,
  resource,
  ...(detail ? { detail } : {}),
  ...(diff ? { diff } : {}),
});

export type StepState =
  | { status: 'done'; summary: string }
  | { status: 'pending'; changes: Change[] }
  /** Waiting on something outside our control (DNS, SES verification, an operator paste). */
  | { status: 'waiting'; reason: string; hint: string }
  /** A prerequisite is missing or the account is in a state we will not touch. */
  | { status: 'blocked'; reason: string; hint?: string };

export interface TeardownOptions {
  keepData: boolean;
}

/**
 * A numbered, idempotent step over some context C: setup's AWS account or the broker host over
 * SSH. The runner needs check(); verify, teardown and polling are for the steps that have them.
 */
export interface Step<C> {
  /** Upstream's number, kept so `--only-step 4` means what operators know. */
  readonly num: number;
  /** Stable id: `--only-step eip` works too. */
  readonly id: string;
  readonly title: string;
  /** Read-only. */
  check(ctx: C): Promise<StepState>;
  /**
   * Read-only: the deletions of what this step built, from the same resource definitions as its
   * check, in the order they run. Teardown takes the steps in reverse.
   */
  teardown?(ctx: C, opts: TeardownOptions): Promise<Change[]>;
  /** Why teardown keeps what this step makes (said by teardown), when it has no teardown. */
  readonly keeps?: string;
  /** --verify: exercise the resource; returns a failure message or undefined. */
  verify?(ctx: C): Promise<string | undefined>;
  /** Waiting that resolves by itself (SES, DNS, the issuer): `--wait` re-checks it until a deadline. */
  readonly pollable?: boolean;
}

type StateOf<S extends StepState['status']> = Extract<StepState, { status: S }>;
export const done = (summary: string): StateOf<'done'> => ({ status: 'done', summary });
export const pending = (changes: Change[]): StepState => ({ status: 'pending', changes });
export const waiting = (reason: string, hint: string): StepState => ({ status: 'waiting', reason, hint });
export const blocked = (reason: string, hint?: string): StateOf<'blocked'> => ({
  status: 'blocked',
  reason,
  ...(hint ? { hint } : {}),
});

/** The exact command that re-runs one step of this stack, for waiting and blocked messages. */
export function rerun(ctx: { stack: { name: string; rerunCommand?: string } }, step: string | number): string {
  return (
    `${ctx.stack.rerunCommand ?? `agentkeys setup${ctx.stack.name === 'test' ? ' --test' : ''}`} ` +
    `--only-step ${step}`
  );
}
