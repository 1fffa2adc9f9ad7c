import { samePolicy } from '../policy-compare.js';
import { daemonAssumeRolePolicy, json } from '../policies.js';
import { change, type Change, type Step } from '../step.js';
import { checkAccessKey, toState, userChange } from './shared.js';

export const daemonUserStep: Step = {
  num: 10,
  id: 'daemon-user',
  title: 'Create the broker runtime user (agentkeys-daemon)',
  async check(ctx) {
    const user = ctx.stack.daemonUser;
    const exists = (await ctx.aws.getUser(user)) !== undefined;
    const changes: Change[] = exists ? [] : [userChange(ctx, user)];
    const policy = exists ? await ctx.aws.getUserPolicy(user, `${user}-assume-role`) : undefined;
    const desired = json(daemonAssumeRolePolicy(ctx.stack));
    if (!samePolicy(policy, desired)) changes.push(change(policy ? 'update' : 'create', `${user}-assume-role`, () => ctx.aws.putUserPolicy(user, `${user}-assume-role`, desired), `sts:AssumeRole on ${ctx.stack.dataRole}`));
    const key = await checkAccessKey(ctx, 'daemon-user', user, exists);
    if (!Array.isArray(key)) return key;
    return toState([...changes, ...key], `${user} may assume ${ctx.stack.dataRole}; its key is in ${ctx.credentialsFile} or with the operator`);
  },
};
