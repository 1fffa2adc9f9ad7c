import { STEPS } from './steps/index.js';
import type { Change, SetupContext, Step, TeardownOptions } from './step.js';

/**
 * Everything this stack owns that still exists, by exact name (never by prefix), each delete
 * idempotent; derived from the steps that build it, so a resource setup makes cannot be missing
 * here. Steps are taken in reverse (what was made last goes first: DNS before the EIP it names,
 * roles before the users they trust). All reads run at once; nothing is deleted yet.
 * Kept on purpose: the KMS keys (what they signed must stay verifiable; the EVM key's address
 * may hold funds) and the EC2 instance.
 */
export async function planTeardown(
  ctx: SetupContext,
  opts: TeardownOptions,
  steps: readonly Step[] = STEPS,
): Promise<Change[]> {
  const reversed = [...steps].sort((a, b) => b.num - a.num);
  const perStep = await Promise.all(reversed.map((s) => s.teardown?.(ctx, opts) ?? Promise.resolve([])));
  return perStep.flat();
}

export async function applyTeardown(actions: Change[], onDone: (a: Change) => void): Promise<void> {
  for (const action of actions) {
    await action.apply(); // every delete treats "already gone" as done (src/aws/call.ts), so re-runs converge
    onDone(action);
  }
}
