import { samePolicy } from '../policy-compare.js';
import { json, sshUserPolicy } from '../policies.js';
import { change, waiting, type Change, type Step, rerun } from '../step.js';
import { checkAccessKey, toState, userChange } from './shared.js';

/** The operator's SSH identity: EC2 Instance Connect to this stack's broker instance only. */
export const sshUserStep: Step = {
  num: 12,
  id: 'ssh-user',
  title: 'Create the operator SSH user (EC2 Instance Connect)',
  async check(ctx) {
    const { stack } = ctx;
    if (!stack.instanceId) return waiting('INSTANCE_ID is not set, so the SSH policy has no instance to name', `paste INSTANCE_ID= into ${stack.brokerEnvFile}, then: ${rerun(ctx, '12')}`);
    const user = stack.sshUser;
    const exists = (await ctx.aws.getUser(user)) !== undefined;
    const changes: Change[] = exists ? [] : [userChange(ctx, user)];
    const policy = exists ? await ctx.aws.getUserPolicy(user, `${user}-ec2ic`) : undefined;
    const desired = json(sshUserPolicy(stack, stack.instanceId));
    if (!samePolicy(policy, desired)) changes.push(change(policy ? 'update' : 'create', `${user}-ec2ic`, () => ctx.aws.putUserPolicy(user, `${user}-ec2ic`, desired), `SendSSHPublicKey on ${stack.instanceId} as agentkey`));
    const key = await checkAccessKey(ctx, 'ssh-user', user, exists);
    if (!Array.isArray(key)) return key;
    return toState([...changes, ...key], `${user} may open SSH sessions on ${stack.instanceId}`);
  },
};
