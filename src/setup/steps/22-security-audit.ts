import { AbortError } from '../../errors.js';
import { broadByName, broadReasons } from '../security-audit.js';
import { change, done, pending, type Change, type SetupContext, type Step } from '../step.js';

interface Principal {
  kind: 'user' | 'role';
  name: string;
  /** A role found on the broker instance's profile rather than by agentkeys' names: where it was. */
  foundOn?: string;
}

/** Every principal the stack's runtime uses, including roles named by AUDIT_SIGNER_ROLES. */
export function stackPrincipals(ctx: SetupContext): Principal[] {
  const { stack } = ctx;
  const roles = [
    stack.dataRole,
    ...stack.dataClasses.map((d) => d.role),
    stack.brokerHostRole,
    ...stack.auditSignerRoles,
    ...(stack.evmSigner ? [stack.evmSigner.role] : []),
  ];
  return [
    ...[stack.daemonUser, stack.sshUser].map((name) => ({ kind: 'user' as const, name })),
    ...[...new Set(roles)].map((name) => ({ kind: 'role' as const, name })),
  ];
}

export interface BroadGrant {
  principal: Principal;
  /** A managed policy ARN, or the name of an inline policy. */
  policy: string;
  managed: boolean;
  reasons: string[];
}

/**
 * The stack's principals, and the roles of whatever instance profile the broker instance actually
 * carries: early deploys landed on other names, and a grant there is as live.
 */
export async function auditedPrincipals(ctx: SetupContext): Promise<Principal[]> {
  const named = stackPrincipals(ctx);
  const id = ctx.stack.instanceId;
  const association = id ? await ctx.aws.describeProfileAssociation(id) : undefined;
  if (!association) return named;
  const profile = association.profileArn.split('/').pop()!;
  const roles = (await ctx.aws.getInstanceProfile(profile))?.roles ?? [];
  const extra = roles
    .filter((r) => !named.some((p) => p.kind === 'role' && p.name === r))
    .map((name) => ({ kind: 'role' as const, name, foundOn: `instance profile ${profile} on ${id}` }));
  return [...named, ...extra];
}

/** Read-only: the over-broad managed and inline policies on the audited principals. */
export async function findBroadGrants(ctx: SetupContext, principals?: Principal[]): Promise<BroadGrant[]> {
  const found = await Promise.all((principals ?? (await auditedPrincipals(ctx))).map((p) => broadGrantsOf(ctx, p)));
  return found.flat();
}

async function broadGrantsOf(ctx: SetupContext, p: Principal): Promise<BroadGrant[]> {
  const { aws } = ctx;
  const exists = p.kind === 'user' ? await aws.getUser(p.name) : await aws.getRole(p.name);
  if (!exists) return [];
  const [attached, inline] =
    p.kind === 'user'
      ? await Promise.all([aws.listAttachedUserPolicies(p.name), aws.listUserPolicies(p.name)])
      : await Promise.all([aws.listAttachedRolePolicies(p.name), aws.listRolePolicies(p.name)]);
  const grants: BroadGrant[] = [];
  for (const arn of attached) {
    const byName = broadByName(arn);
    const reasons = byName ? [byName] : broadReasons(await aws.getManagedPolicyDocument(arn));
    if (reasons.length > 0) grants.push({ principal: p, policy: arn, managed: true, reasons });
  }
  for (const name of inline) {
    const doc = p.kind === 'user' ? await aws.getUserPolicy(p.name, name) : await aws.getRolePolicy(p.name, name);
    const reasons = broadReasons(doc);
    if (reasons.length > 0) grants.push({ principal: p, policy: name, managed: false, reasons });
  }
  return grants;
}

/**
 * Seed 004 §7 as a step: every over-broad grant on an agentkeys principal is listed (in --plan
 * too) and removed only with the operator's yes, one question per grant: a broker with
 * AmazonS3FullAccess can read every inbound mail, but the operator may know why it is there.
 */
export const securityAuditStep: Step = {
  num: 22,
  id: 'security-audit',
  title: 'Audit the agentkeys principals for over-broad policies',
  keeps: 'it only removes grants, and only with the operator’s yes',
  async check(ctx) {
    const principals = await auditedPrincipals(ctx);
    const grants = await findBroadGrants(ctx, principals);
    if (grants.length === 0) return done(`${principals.length} principals checked: no wildcard or full-access grants`);
    return pending(grants.map((g) => removal(ctx, g)));
  },
};

function removal(ctx: SetupContext, g: BroadGrant): Change {
  const { aws } = ctx;
  const { kind, name } = g.principal;
  const what = g.managed ? `detach ${g.policy.split('/').pop()} from` : `delete inline policy ${g.policy} of`;
  return change(
    'delete',
    g.managed ? `${g.policy} on ${kind} ${name}` : `${kind} ${name}/${g.policy}`,
    async () => {
      if (!(await ctx.confirm(`${what} ${kind} ${name}? It grants ${g.reasons.join('; ')}.`)))
        throw new AbortError({
          code: 'CONFIRMATION_REQUIRED',
          message: `kept ${g.policy} on ${name}: over-broad (${g.reasons.join('; ')})`,
          hint: 'review it, then add --yes to remove it: agentkeys setup --only-step security-audit --yes',
        });
      if (kind === 'user')
        await (g.managed ? aws.detachUserPolicy(name, g.policy) : aws.deleteUserPolicy(name, g.policy));
      else await (g.managed ? aws.detachRolePolicy(name, g.policy) : aws.deleteRolePolicy(name, g.policy));
    },
    `over-broad: ${g.reasons.join('; ')}${g.principal.foundOn ? ` (the role on ${g.principal.foundOn})` : ''}`,
  );
}
