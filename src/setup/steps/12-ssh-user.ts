import { json, sshUserPolicy } from '../policies.js';
import { iamUser } from '../resources.js';
import { waiting, type SetupContext, type Step, rerun } from '../step.js';
import { toState } from './shared.js';

const operator = (ctx: SetupContext) => iamUser(ctx, ctx.stack.sshUser, 'ssh-user');

/** The operator's SSH identity: EC2 Instance Connect to this stack's broker instance only. */
export const sshUserStep: Step = {
  num: 12,
  id: 'ssh-user',
  title: 'Create the operator SSH user (EC2 Instance Connect)',
  async check(ctx) {
    const { stack } = ctx;
    if (!stack.instanceId)
      return waiting(
        'INSTANCE_ID is not set, so the SSH policy has no instance to name',
        `paste INSTANCE_ID= into ${stack.brokerEnvFile}, then: ${rerun(ctx, '12')}`,
      );
    const policy = {
      name: `${stack.sshUser}-ec2ic`,
      document: json(sshUserPolicy(stack, stack.instanceId)),
      detail: `SendSSHPublicKey on ${stack.instanceId} as agentkey`,
    };
    return toState(await operator(ctx).plan(policy), `${stack.sshUser} may open SSH sessions on ${stack.instanceId}`);
  },
  teardown: (ctx) => operator(ctx).teardown(),
};
