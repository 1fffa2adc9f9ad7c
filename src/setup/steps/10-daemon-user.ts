import { daemonAssumeRolePolicy, json } from '../policies.js';
import { iamUser } from '../resources.js';
import type { SetupContext, Step } from '../step.js';
import { toState } from './shared.js';

const daemon = (ctx: SetupContext) => iamUser(ctx, ctx.stack.daemonUser, 'daemon-user');

export const daemonUserStep: Step = {
  num: 10,
  id: 'daemon-user',
  title: 'Create the broker runtime user (agentkeys-daemon)',
  async check(ctx) {
    const { daemonUser: user, dataRole } = ctx.stack;
    const policy = {
      name: `${user}-assume-role`,
      document: json(daemonAssumeRolePolicy(ctx.stack)),
      detail: `sts:AssumeRole on ${dataRole}`,
    };
    return toState(
      await daemon(ctx).plan(policy),
      `${user} may assume ${dataRole}; its key is in ${ctx.credentialsFile} or with the operator`,
    );
  },
  teardown: (ctx) => daemon(ctx).teardown(),
};
