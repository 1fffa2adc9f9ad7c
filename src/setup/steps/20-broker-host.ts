import { brokerHostInline, brokerHostTrust, brokerSendEmailPolicy, json } from '../policies.js';
import { iamRole, inlinePolicyChange, type TeardownAction } from '../resources.js';
import { blocked, change, type Change, type SetupContext, type Step } from '../step.js';
import { toState } from './shared.js';

const runtimePolicy = (ctx: SetupContext) => `${ctx.stack.brokerHostRole}-runtime`;
const daemonSendEmail = (ctx: SetupContext) => `${ctx.stack.daemonUser}-send-email`;

/**
 * Seed 004 §6 and §6.1: the broker's runtime identity. On EC2 that is the instance profile
 * agentkeys-broker-host[-test] (credentials from IMDS, never a static key), whose role may assume
 * the data role and call SES v2 SendEmail from the stack's sender only, the grant whose absence is
 * the seed's `backend_unreachable … AccessDeniedException`. Off EC2 (no INSTANCE_ID) the daemon
 * user is the runtime identity, so the same SendEmail grant goes there instead.
 */
export const brokerHostStep: Step = {
  num: 20,
  id: 'broker-host',
  title: "Create the broker host's instance profile and runtime grants",
  async check(ctx) {
    const { stack, aws } = ctx;
    const name = stack.brokerHostRole;
    const role = iamRole(ctx, name);
    const current = await role.read();
    const changes: Change[] = [
      ...role.ensure(
        current,
        json(brokerHostTrust(stack)),
        'agentkeys broker host (EC2 instance profile)',
        'trusts EC2',
      ),
      ...(await role.inline(current !== undefined, {
        name: runtimePolicy(ctx),
        label: `${name}/${runtimePolicy(ctx)}`,
        document: json(brokerHostInline(stack)),
        detail: `assume ${stack.dataRole}; ses:SendEmail from ${stack.senderAddress}`,
      })),
    ];
    const profile = await aws.getInstanceProfile(name);
    if (profile && profile.roles.some((r) => r !== name))
      return blocked(
        `instance profile ${name} holds role ${profile.roles.join(', ')}, not ${name}`,
        `aws iam remove-role-from-instance-profile --instance-profile-name ${name} --role-name ${profile.roles[0]}`,
      );
    if (!profile) changes.push(change('create', `instance profile ${name}`, () => aws.createInstanceProfile(name)));
    if (!profile?.roles.includes(name))
      changes.push(
        change('associate', `role ${name} → instance profile ${name}`, () => aws.addRoleToInstanceProfile(name, name)),
      );
    const attach = await attachmentChanges(ctx);
    if (!Array.isArray(attach)) return attach;
    changes.push(...attach, ...(await daemonGrantChanges(ctx)));
    const where = stack.instanceId ? `on ${stack.instanceId}` : `not attached (no INSTANCE_ID); ${stack.daemonUser}`;
    return toState(changes, `${name}: assume ${stack.dataRole}, SendEmail from ${stack.senderAddress}; ${where}`);
  },
  async teardown(ctx) {
    const { stack, aws } = ctx;
    const name = stack.brokerHostRole;
    const actions: TeardownAction[] = [];
    const association = stack.instanceId ? await aws.describeProfileAssociation(stack.instanceId) : undefined;
    if (association?.profileArn.endsWith(`/${name}`))
      actions.push({
        resource: `instance profile ${name} on ${stack.instanceId}`,
        action: 'delete',
        apply: () => aws.disassociateInstanceProfile(association.associationId),
      });
    const profile = await aws.getInstanceProfile(name);
    if (profile)
      actions.push({
        resource: `instance profile ${name}`,
        action: 'delete',
        apply: async () => {
          for (const r of profile.roles) await aws.removeRoleFromInstanceProfile(name, r);
          await aws.deleteInstanceProfile(name);
        },
      });
    return [...actions, ...(await iamRole(ctx, name).teardown())];
  },
};

/** The profile on the broker instance: associated when it has none; another profile is the operator's. */
async function attachmentChanges(ctx: SetupContext) {
  const { stack, aws } = ctx;
  const id = stack.instanceId;
  if (!id) return [];
  const association = await aws.describeProfileAssociation(id);
  if (!association)
    return [
      change('associate', `instance profile ${stack.brokerHostRole} → ${id}`, () =>
        aws.associateInstanceProfile(id, stack.brokerHostRole),
      ),
    ];
  if (association.profileArn.endsWith(`/${stack.brokerHostRole}`)) return [];
  return blocked(
    `${id} already has instance profile ${association.profileArn}; agentkeys does not replace it`,
    `review it (agentkeys setup --only-step security-audit --plan), then: aws ec2 replace-iam-instance-profile-` +
      `association --association-id ${association.associationId} --iam-instance-profile Name=${stack.brokerHostRole}`,
  );
}

/** Off EC2 the daemon user sends the mail; on EC2 that grant would be a second, unused path, so it goes. */
async function daemonGrantChanges(ctx: SetupContext): Promise<Change[]> {
  const { stack, aws } = ctx;
  const policy = daemonSendEmail(ctx);
  // Step 10 makes the user earlier in the same run, so a plan from an empty account shows the put.
  const user = await aws.getUser(stack.daemonUser);
  const current = user ? await aws.getUserPolicy(stack.daemonUser, policy) : undefined;
  if (stack.instanceId)
    return current
      ? [change('delete', `${stack.daemonUser}/${policy}`, () => aws.deleteUserPolicy(stack.daemonUser, policy))]
      : [];
  const document = json(brokerSendEmailPolicy(stack));
  const put = () => aws.putUserPolicy(stack.daemonUser, policy, document);
  return inlinePolicyChange(current, { name: policy, label: `${stack.daemonUser}/${policy}`, document }, put);
}
