import { blocked, type Step } from '../step.js';
import { mailPolicyChanges } from './07-mail-bucket.js';
import { toState } from './shared.js';

/**
 * Upstream's step 14 re-put the step-7 policy with a different pre-check Sid and undid the
 * cleanup. Here it is the same single resource as in step 7, rendered from the current phase:
 * after step 11 the data role exists, so its read grant (static) or prefix grants (federated) join.
 */
export const mailPolicyStep: Step = {
  num: 14,
  id: 'mail-policy',
  title: 'Grant the data role its mail-bucket access',
  async check(ctx) {
    if ((await ctx.aws.headBucket(ctx.stack.mailBucket)) !== 'exists')
      return blocked(`mail bucket ${ctx.stack.mailBucket} does not exist`, 'run step 7 first');
    return toState(await mailPolicyChanges(ctx, true), `s3://${ctx.stack.mailBucket} policy matches the current phase`);
  },
};
