import type { SetupContext, Change, StepState } from '../step.js';
import { done, pending } from '../step.js';
import type { Phase } from '../policies.js';

/** Federated once the data role trusts the stack's OIDC provider (the oidc step made the swap). */
export async function currentPhase(ctx: SetupContext): Promise<Phase> {
  return phaseOf(ctx, await ctx.aws.getRole(ctx.stack.dataRole));
}

/** The phase from a data role already read, so a step that needs the role too reads it once. */
export function phaseOf(ctx: SetupContext, dataRole: { trust: string } | undefined): Phase {
  return dataRole?.trust.includes(ctx.stack.oidcProviderArn) && dataRole.trust.includes('Federated')
    ? 'federated'
    : 'static';
}

export function toState(result: StepState | Change[], summary: string): StepState {
  if (!Array.isArray(result)) return result;
  return result.length === 0 ? done(summary) : pending(result);
}
