import { classBucketPolicy, classRoleInline, federatedTrust, json, placeholderTrust } from '../policies.js';
import type { Stack } from '../../config/stack.js';
import { change, type Change, type SetupContext, type Step, type StepState } from '../step.js';
import { iamRole, inlinePolicyChange, s3Bucket, type TeardownAction } from '../resources.js';
import { currentPhase, toState } from './shared.js';

type DataClass = Stack['dataClasses'][number];

/**
 * Vault, memory and config: a private SSE-S3 bucket and a role per class, each role scoped to the
 * caller's own `bots/<actor>/<class>/` prefix, and a v3 bucket policy naming the role, put only
 * after the role exists (dependency order inside the step).
 */
async function classChanges(
  ctx: SetupContext,
  dc: DataClass,
  trust: string,
): Promise<StepState | { changes: Change[]; policy: Change[] }> {
  const { aws } = ctx;
  let bucketExists = false;
  const base = await s3Bucket(ctx, dc.bucket).plan(async (exists) => {
    bucketExists = exists;
    return exists && (await aws.getBucketEncryption(dc.bucket)) === 'AES256'
      ? []
      : [change('update', `s3://${dc.bucket} encryption`, () => aws.putBucketEncryptionSse(dc.bucket), 'SSE-S3')];
  });
  if (!Array.isArray(base)) return base;
  const changes = [...base];
  const role = iamRole(ctx, dc.role);
  const current = await role.read();
  changes.push(...role.ensure(current, trust, `agentkeys ${dc.cls} data-class role`));
  changes.push(
    ...(await role.inline(current !== undefined, {
      name: `${dc.role}-inline`,
      document: json(classRoleInline(ctx.stack, dc)),
      detail: `bots/<actor>/${dc.prefixClass}/*`,
    })),
  );
  const policy = bucketExists ? await aws.getBucketPolicy(dc.bucket) : undefined;
  const desiredPolicy = {
    name: 'bucket policy',
    label: `s3://${dc.bucket} policy`,
    document: json(classBucketPolicy(ctx.stack, dc)),
    detail: `${dc.sid}ListV3, ${dc.sid}ObjectsV3`,
  };
  return {
    changes,
    policy: inlinePolicyChange(policy, desiredPolicy, () => aws.putBucketPolicy(dc.bucket, desiredPolicy.document)),
  };
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
    // Every role exists before any bucket policy names it: the policies go last.
    const policies: Change[] = [];
    for (const dc of ctx.stack.dataClasses) {
      const r = await classChanges(ctx, dc, trust);
      if (!('policy' in r)) return r;
      all.push(...r.changes);
      policies.push(...r.policy);
    }
    return toState([...all, ...policies], ctx.stack.dataClasses.map((d) => `${d.bucket} + ${d.role}`).join(', '));
  },
  /** Each class's role before its bucket: the reverse of the order they were made in. */
  async teardown(ctx, opts) {
    const perClass = await Promise.all(
      ctx.stack.dataClasses.map(async (dc): Promise<TeardownAction[]> => [
        ...(await iamRole(ctx, dc.role).teardown()),
        ...(await s3Bucket(ctx, dc.bucket).teardown(opts)),
      ]),
    );
    return perClass.flat();
  },
};
