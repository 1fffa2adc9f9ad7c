import { s3Bucket } from '../resources.js';
import { blocked, change, type Change, type SetupContext, type Step } from '../step.js';
import { toState } from './shared.js';

/**
 * The checkpoint witness of issue 11: an S3 bucket with Object Lock in compliance mode, so a
 * checkpoint written to it (sign --witness) can be neither overwritten nor deleted by anyone,
 * root included, until its retention ends. Object Lock can only be switched on when the bucket is
 * created. Teardown keeps it: what it holds is locked by design.
 */
export const witnessBucketStep: Step = {
  num: 19,
  id: 'witness-bucket',
  title: 'Create the checkpoint witness bucket (S3 Object Lock, compliance mode)',
  keeps: 'the witness bucket (its checkpoints are locked in compliance mode until their retention ends)',
  async check(ctx) {
    const { bucket, retentionDays } = ctx.stack.witness;
    let unlocked = false;
    const result = await s3Bucket(ctx, bucket).plan(
      async (exists) => {
        const lock = exists ? await ctx.aws.getObjectLock(bucket) : undefined;
        unlocked = exists && !lock;
        return unlocked ? [] : retentionChanges(ctx, lock);
      },
      { objectLock: true },
    );
    if (unlocked) {
      return blocked(
        `bucket ${bucket} exists without Object Lock, which S3 can only switch on at creation`,
        'set WITNESS_BUCKET to a new name in the operator env file; setup creates it locked',
      );
    }
    return toState(
      result,
      `s3://${bucket}: Object Lock, COMPLIANCE, ${retentionDays} days; sign --witness s3://${bucket}/audit`,
    );
  },
};

function retentionChanges(ctx: SetupContext, lock: { mode?: string; days?: number } | undefined): Change[] {
  const { bucket, retentionDays } = ctx.stack.witness;
  if (lock?.mode === 'COMPLIANCE' && lock.days === retentionDays) return [];
  const detail = `COMPLIANCE, ${retentionDays} days (WITNESS_RETENTION_DAYS)`;
  return [
    change(
      'update',
      `s3://${bucket} default retention`,
      () => ctx.aws.putObjectLockRetention(bucket, retentionDays),
      detail,
    ),
  ];
}
