import { done, reportStep } from './step.js';

/** Step 16; always runs when in range (upstream's default stopped at 15 and never printed it). */
export const summaryStep = reportStep({
  num: 16,
  id: 'summary',
  title: 'Summary',
  report: async (ctx) => {
    const s = ctx.stack;
    return done(
      [
        `${s.name} stack in ${s.accountId}/${s.region}`,
        `broker ${s.brokerHost} at ${ctx.state.eip ?? '(no EIP yet)'}${s.instanceId ? ` on ${s.instanceId}` : ''}`,
        `mail ${s.mailDomain} → s3://${s.mailBucket}/inbound/`,
        `data role ${ctx.state.dataRoleArn ?? s.dataRole}`,
        `access keys in ${ctx.credentialsFile}`,
      ].join('; '),
    );
  },
});
