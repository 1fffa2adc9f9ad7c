import { sesIdentity } from '../resources.js';
import { rerun, type SetupContext, type Step } from '../step.js';

const domain = (ctx: SetupContext) =>
  sesIdentity(ctx, ctx.stack.mailDomain, {
    dkim: true,
    detail: 'DKIM RSA-2048',
    waiting: {
      reason: `SES is verifying ${ctx.stack.mailDomain} (DKIM records: step 6)`,
      hint: `SES checks DNS for up to 72 h; re-run: ${rerun(ctx, '5')}`,
    },
  });

export const sesDomainStep: Step = {
  pollable: true,
  num: 5,
  id: 'ses-domain',
  title: 'Create the SES domain identity',
  check: (ctx) => domain(ctx).check(),
  teardown: (ctx) => domain(ctx).teardown(),
};
