import { canonicalPolicy, samePolicy } from '../policy-compare.js';
import { json, mailBucketPolicy } from '../policies.js';
import type { LifecycleRule } from '../../aws/setup-api.js';
import { change, type Change, type SetupContext, type Step } from '../step.js';
import { s3Bucket } from '../resources.js';
import { phaseOf, toState } from './shared.js';

const LIFECYCLE: LifecycleRule[] = [
  { ID: 'inbound-30d-ttl', Status: 'Enabled', Filter: { Prefix: 'inbound/' }, Expiration: { Days: 30 } },
];

/** The mail bucket policy, rendered from what exists now: shared by steps 7 and 14, so they never disagree. */
export async function desiredMailPolicy(ctx: SetupContext): Promise<string> {
  const role = await ctx.aws.getRole(ctx.stack.dataRole);
  return json(mailBucketPolicy(ctx.stack, phaseOf(ctx, role), role !== undefined));
}

export async function mailPolicyChanges(ctx: SetupContext, exists: boolean): Promise<Change[]> {
  const desired = await desiredMailPolicy(ctx);
  const current = exists ? await ctx.aws.getBucketPolicy(ctx.stack.mailBucket) : undefined;
  if (samePolicy(current, desired)) return [];
  const sids = (JSON.parse(canonicalPolicy(desired)!) as { Statement: { Sid?: string }[] }).Statement.map(
    (s) => s.Sid,
  ).join(', ');
  return [
    change(
      current ? 'update' : 'create',
      `s3://${ctx.stack.mailBucket} policy`,
      () => ctx.aws.putBucketPolicy(ctx.stack.mailBucket, desired),
      sids,
    ),
  ];
}

function lifecycleMatches(rules: LifecycleRule[] | undefined): boolean {
  const r = rules?.find((x) => x.ID === 'inbound-30d-ttl');
  return r?.Status === 'Enabled' && r.Expiration?.Days === 30 && (r.Filter?.Prefix ?? r.Prefix) === 'inbound/';
}

export const mailBucketStep: Step = {
  num: 7,
  id: 'mail-bucket',
  title: 'Create the inbound mail bucket',
  async check(ctx) {
    const bucket = ctx.stack.mailBucket;
    const result = await s3Bucket(ctx, bucket).plan(async (exists) => [
      ...(exists && lifecycleMatches(await ctx.aws.getLifecycle(bucket))
        ? []
        : [
            change(
              'update',
              `s3://${bucket} lifecycle`,
              () => ctx.aws.putLifecycle(bucket, LIFECYCLE),
              'inbound/ expires after 30 days',
            ),
          ]),
      ...(await mailPolicyChanges(ctx, exists)),
    ]);
    return toState(result, `s3://${bucket}: private, 30-day inbound TTL, SES may write`);
  },
  teardown: (ctx, opts) => s3Bucket(ctx, ctx.stack.mailBucket).teardown(opts),
  async verify(ctx) {
    const policy = await ctx.aws.getBucketPolicy(ctx.stack.mailBucket);
    return policy?.includes('AllowSESWriteInbound') ? undefined : `s3://${ctx.stack.mailBucket} does not let SES write`;
  },
};
