import { blocked, done, type Step } from '../step.js';

/** The caller was checked once before the steps (account == ACCOUNT_ID, allow-list); this adds the zone. */
export const callerStep: Step = {
  num: 3,
  id: 'caller',
  title: 'Check the caller and the hosted zone',
  async check(ctx) {
    const zone = await ctx.aws.getHostedZone(ctx.stack.parentZoneId);
    if (!zone) return blocked(`hosted zone ${ctx.stack.parentZoneId} does not exist in account ${ctx.stack.accountId}`, 'set PARENT_ZONE_ID (aws route53 list-hosted-zones-by-name)');
    if (zone.name.replace(/\.$/, '') !== ctx.stack.zone) return blocked(`hosted zone ${ctx.stack.parentZoneId} is ${zone.name}, not ${ctx.stack.zone}`, 'PARENT_ZONE_ID and ZONE must name the same zone');
    return done(`${ctx.state.caller?.arn ?? 'caller'} in ${ctx.stack.accountId}; zone ${ctx.stack.zone}`);
  },
};
