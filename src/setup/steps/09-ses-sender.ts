import { sesIdentity } from '../resources.js';
import { rerun, type SetupContext, type Step } from '../step.js';
import { MAILS_SEARCHED, senderVerificationLink } from '../mail.js';

const sender = (ctx: SetupContext) =>
  sesIdentity(ctx, ctx.stack.senderAddress, {
    dkim: false,
    detail: 'SES sends a verification mail',
    waiting: {
      reason: `SES is waiting for ${ctx.stack.senderAddress} to be confirmed`,
      hint: async () => {
        const link = await senderVerificationLink(ctx.stack, ctx.aws);
        const folder = `s3://${ctx.stack.mailBucket}/inbound/`;
        return link
          ? `open SES's confirmation link (from the newest mails under ${folder}): ${link}, then: ${rerun(ctx, '9')}`
          : `open SES's verification mail under ${folder} (none in the ${MAILS_SEARCHED} newest), ` +
              `then: ${rerun(ctx, '9')}`;
      },
    },
  });

/**
 * The broker's sender address. SES mails a verification link to it; the mail lands in the
 * inbound bucket (steps 7 and 8). agentkeys does not follow links found in mail: the step waits,
 * shows the link when one of the newest mails holds SES's own for this sender and account
 * (src/setup/mail.ts), and says what to re-run.
 */
export const sesSenderStep: Step = {
  pollable: true,
  num: 9,
  id: 'ses-sender',
  title: 'Verify the SES sender address',
  check: (ctx) => sender(ctx).check(),
  teardown: (ctx) => sender(ctx).teardown(),
};
