import { setEnvValue } from '../../config/env-writeback.js';
import { samePolicy } from '../policy-compare.js';
import { dataRoleInline, dataRoleStaticTrust, json, roleArn } from '../policies.js';
import type { Change, Step } from '../step.js';
import { phaseOf, toState } from './shared.js';

/**
 * The email data role. Static phase: trusted by the daemon user, with the inline grants. Once
 * federated (the oidc step), its trust belongs to that step and the broad inline grants must stay
 * deleted: this step renders by phase, so the two never ping-pong (weakness 17).
 */
export const dataRoleStep: Step = {
  num: 11,
  id: 'data-role',
  title: 'Create the email data role',
  async check(ctx) {
    const { stack } = ctx;
    const role = await ctx.aws.getRole(stack.dataRole);
    const phase = phaseOf(ctx, role);
    const changes: Change[] = [];
    if (!role) changes.push({ action: 'create', resource: `IAM role ${stack.dataRole}`, detail: `trusts ${stack.daemonUser}` });
    const inline = role ? await ctx.aws.getRolePolicy(stack.dataRole, `${stack.dataRole}-inline`) : undefined;
    if (phase === 'static' && !samePolicy(inline, json(dataRoleInline(stack)))) changes.push({ action: inline ? 'update' : 'create', resource: `${stack.dataRole}-inline`, detail: 'mail bucket read, SES send' });
    if (phase === 'federated' && inline) changes.push({ action: 'delete', resource: `${stack.dataRole}-inline`, detail: 'federated: the broad grant goes' });
    const arn = roleArn(stack, stack.dataRole);
    if (ctx.state.dataRoleArn !== arn) changes.push({ action: 'write', resource: `DATA_ROLE_ARN in ${stack.operatorEnvFile}` });
    return toState(changes, `${arn} (${phase})`);
  },
  async apply(ctx, changes) {
    const { stack } = ctx;
    const has = (resource: string) => changes.find((c) => c.resource === resource);
    if (has(`IAM role ${stack.dataRole}`)) await ctx.aws.createRole(stack.dataRole, json(dataRoleStaticTrust(stack)), 'agentkeys email data role');
    const inline = has(`${stack.dataRole}-inline`);
    if (inline?.action === 'delete') await ctx.aws.deleteRolePolicy(stack.dataRole, `${stack.dataRole}-inline`);
    else if (inline) await ctx.aws.putRolePolicy(stack.dataRole, `${stack.dataRole}-inline`, json(dataRoleInline(stack)));
    if (has(`DATA_ROLE_ARN in ${stack.operatorEnvFile}`)) {
      const arn = roleArn(stack, stack.dataRole);
      await setEnvValue(stack.operatorEnvFile, 'DATA_ROLE_ARN', arn);
      ctx.state.dataRoleArn = arn;
    }
  },
};
