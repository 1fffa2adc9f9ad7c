import { samePolicy } from '../policy-compare.js';
import { json, sshUserPolicy } from '../policies.js';
import { waiting, type Change, type Step, rerun } from '../step.js';
import { checkAccessKey, createAccessKey, toState } from './shared.js';

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
    const changes: Change[] = exists ? [] : [{ action: 'create', resource: `IAM user ${user}` }];
    const policy = exists ? await ctx.aws.getUserPolicy(user, `${user}-ec2ic`) : undefined;
    if (!samePolicy(policy, json(sshUserPolicy(stack, stack.instanceId)))) changes.push({ action: policy ? 'update' : 'create', resource: `${user}-ec2ic`, detail: `SendSSHPublicKey on ${stack.instanceId} as agentkey` });
    const key = await checkAccessKey(ctx, user, exists);
    if (!Array.isArray(key)) return key;
    return toState([...changes, ...key], `${user} may open SSH sessions on ${stack.instanceId}`);
  },
  async apply(ctx, changes) {
    const { stack } = ctx;
    const user = stack.sshUser;
    if (changes.some((c) => c.resource === `IAM user ${user}`)) await ctx.aws.createUser(user);
    if (changes.some((c) => c.resource === `${user}-ec2ic`)) await ctx.aws.putUserPolicy(user, `${user}-ec2ic`, json(sshUserPolicy(stack, stack.instanceId!)));
    if (changes.some((c) => c.resource.startsWith('access key'))) await createAccessKey(ctx, 'ssh-user', user);
  },
};
