import { samePolicy } from '../policy-compare.js';
import { daemonAssumeRolePolicy, json } from '../policies.js';
import type { Change, Step } from '../step.js';
import { checkAccessKey, createAccessKey, toState } from './shared.js';

export const daemonUserStep: Step = {
  num: 10,
  id: 'daemon-user',
  title: 'Create the broker runtime user (agentkeys-daemon)',
  async check(ctx) {
    const user = ctx.stack.daemonUser;
    const exists = (await ctx.aws.getUser(user)) !== undefined;
    const changes: Change[] = exists ? [] : [{ action: 'create', resource: `IAM user ${user}` }];
    const policy = exists ? await ctx.aws.getUserPolicy(user, `${user}-assume-role`) : undefined;
    if (!samePolicy(policy, json(daemonAssumeRolePolicy(ctx.stack)))) changes.push({ action: policy ? 'update' : 'create', resource: `${user}-assume-role`, detail: `sts:AssumeRole on ${ctx.stack.dataRole}` });
    const key = await checkAccessKey(ctx, user, exists);
    if (!Array.isArray(key)) return key;
    return toState([...changes, ...key], `${user} may assume ${ctx.stack.dataRole}; its key is in ${ctx.credentialsFile} or with the operator`);
  },
  async apply(ctx, changes) {
    const user = ctx.stack.daemonUser;
    if (changes.some((c) => c.resource === `IAM user ${user}`)) await ctx.aws.createUser(user);
    if (changes.some((c) => c.resource === `${user}-assume-role`)) await ctx.aws.putUserPolicy(user, `${user}-assume-role`, json(daemonAssumeRolePolicy(ctx.stack)));
    if (changes.some((c) => c.resource.startsWith('access key'))) await createAccessKey(ctx, 'daemon-user', user);
  },
};
