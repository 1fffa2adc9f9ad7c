import { change, done, pending, waiting, type Step, rerun } from '../step.js';

export const sesDomainStep: Step = {
  pollable: true,
  num: 5,
  id: 'ses-domain',
  title: 'Create the SES domain identity',
  async check(ctx) {
    const identity = await ctx.aws.getEmailIdentity(ctx.stack.mailDomain);
    if (!identity) return pending([change('create', `SES identity ${ctx.stack.mailDomain}`, () => ctx.aws.createEmailIdentity(ctx.stack.mailDomain, true), 'DKIM RSA-2048')]);
    if (identity.verifiedForSending) return done(`${ctx.stack.mailDomain} verified for sending`);
    return waiting(`SES is verifying ${ctx.stack.mailDomain} (DKIM records: step 6)`, `SES checks DNS for up to 72 h; re-run: ${rerun(ctx, '5')}`);
  },
};
