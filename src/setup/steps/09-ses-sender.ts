import { change, done, pending, waiting, type Step, rerun } from '../step.js';

/**
 * The broker's sender address. SES mails a verification link to it; the mail lands in the
 * inbound bucket (steps 7 and 8). agentkeys does not follow links found in mail: the step waits,
 * and says where the link is and what to re-run.
 */
export const sesSenderStep: Step = {
  pollable: true,
  num: 9,
  id: 'ses-sender',
  title: 'Verify the SES sender address',
  async check(ctx) {
    const { stack } = ctx;
    const identity = await ctx.aws.getEmailIdentity(stack.senderAddress);
    if (!identity) return pending([change('create', `SES identity ${stack.senderAddress}`, () => ctx.aws.createEmailIdentity(stack.senderAddress, false), 'SES sends a verification mail')]);
    if (identity.verifiedForSending) return done(`${stack.senderAddress} verified`);
    return waiting(`SES is waiting for ${stack.senderAddress} to be confirmed`, `open the verification link in the newest mail under s3://${stack.mailBucket}/inbound/, then: ${rerun(ctx, '9')}`);
  },
};
