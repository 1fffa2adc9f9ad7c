import { samePolicy } from '../policy-compare.js';
import { classBucketPolicy, classRoleInline, federatedTrust, json, placeholderTrust } from '../policies.js';
import type { Stack } from '../stack.js';
import type { Change, SetupContext, Step, StepState } from '../step.js';
import { applyBucketBaseline, bucketBaseline, currentPhase, toState } from './shared.js';

type DataClass = Stack['dataClasses'][number];

/**
 * Vault, memory and config: a private SSE-S3 bucket and a role per class, each role scoped to the
 * caller's own `bots/<actor>/<class>/` prefix, and a v3 bucket policy naming the role, put only
 * after the role exists (dependency order inside the step).
 */
async function classChanges(ctx: SetupContext, dc: DataClass, trust: string): Promise<StepState | Change[]> {
  const base = await bucketBaseline(ctx, dc.bucket, async (exists) =>
    exists && (await ctx.aws.getBucketEncryption(dc.bucket)) === 'AES256' ? [] : [{ action: 'update' as const, resource: `s3://${dc.bucket} encryption`, detail: 'SSE-S3' }]);
  if (!Array.isArray(base)) return base;
  const changes = [...base];
  const role = await ctx.aws.getRole(dc.role);
  if (!role) changes.push({ action: 'create', resource: `IAM role ${dc.role}` });
  else if (!samePolicy(role.trust, trust)) changes.push({ action: 'update', resource: `IAM role ${dc.role} trust` });
  const inline = role ? await ctx.aws.getRolePolicy(dc.role, `${dc.role}-inline`) : undefined;
  if (!samePolicy(inline, json(classRoleInline(dc)))) changes.push({ action: inline ? 'update' : 'create', resource: `${dc.role}-inline`, detail: `bots/<actor>/${dc.prefixClass}/*` });
  const policy = changes.some((c) => c.resource === `s3://${dc.bucket}`) ? undefined : await ctx.aws.getBucketPolicy(dc.bucket);
  if (!samePolicy(policy, json(classBucketPolicy(ctx.stack, dc)))) changes.push({ action: policy ? 'update' : 'create', resource: `s3://${dc.bucket} policy`, detail: `${dc.sid}ListV3, ${dc.sid}ObjectsV3` });
  return changes;
}

async function desiredTrust(ctx: SetupContext): Promise<string> {
  // Until federation, class roles trust nobody: the OIDC provider they will trust does not exist yet.
  return json((await currentPhase(ctx)) === 'federated' ? federatedTrust(ctx.stack) : placeholderTrust(ctx.stack));
}

export const dataClassesStep: Step = {
  num: 13,
  id: 'data-classes',
  title: 'Create the vault, memory and config buckets and roles',
  async check(ctx) {
    const trust = await desiredTrust(ctx);
    const all: Change[] = [];
    for (const dc of ctx.stack.dataClasses) {
      const r = await classChanges(ctx, dc, trust);
      if (!Array.isArray(r)) return r;
      all.push(...r);
    }
    return toState(all, ctx.stack.dataClasses.map((d) => `${d.bucket} + ${d.role}`).join(', '));
  },
  async apply(ctx, changes) {
    const trust = await desiredTrust(ctx);
    const has = (r: string) => changes.find((c) => c.resource === r);
    for (const dc of ctx.stack.dataClasses) {
      await applyBucketBaseline(ctx, dc.bucket, changes);
      if (has(`s3://${dc.bucket} encryption`)) await ctx.aws.putBucketEncryptionSse(dc.bucket);
      if (has(`IAM role ${dc.role}`)) await ctx.aws.createRole(dc.role, trust, `agentkeys ${dc.cls} data-class role`);
      if (has(`IAM role ${dc.role} trust`)) await ctx.aws.updateTrust(dc.role, trust);
      if (has(`${dc.role}-inline`)) await ctx.aws.putRolePolicy(dc.role, `${dc.role}-inline`, json(classRoleInline(dc)));
    }
    // Every role exists before any bucket policy names it.
    for (const dc of ctx.stack.dataClasses) {
      if (has(`s3://${dc.bucket} policy`)) await ctx.aws.putBucketPolicy(dc.bucket, json(classBucketPolicy(ctx.stack, dc)));
    }
  },
};
