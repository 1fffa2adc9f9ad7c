import { setEnvValue } from '../../config/env-writeback.js';
import { samePolicy } from '../policy-compare.js';
import { dataRoleInline, dataRoleStaticTrust, json, roleArn } from '../policies.js';
import { change, type Change, type Step } from '../step.js';
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
    const { aws } = ctx;
    const name = stack.dataRole;
    const changes: Change[] = [];
    if (!role) changes.push(change('create', `IAM role ${name}`, () => aws.createRole(name, json(dataRoleStaticTrust(stack)), 'agentkeys email data role'), `trusts ${stack.daemonUser}`));
    const inline = role ? await aws.getRolePolicy(name, `${name}-inline`) : undefined;
    const desired = json(dataRoleInline(stack));
    if (phase === 'static' && !samePolicy(inline, desired)) changes.push(change(inline ? 'update' : 'create', `${name}-inline`, () => aws.putRolePolicy(name, `${name}-inline`, desired), 'mail bucket read, SES send'));
    if (phase === 'federated' && inline) changes.push(change('delete', `${name}-inline`, () => aws.deleteRolePolicy(name, `${name}-inline`), 'federated: the broad grant goes'));
    const arn = roleArn(stack, name);
    if (ctx.state.dataRoleArn !== arn) {
      changes.push(change('write', `DATA_ROLE_ARN in ${stack.operatorEnvFile}`, async () => {
        await setEnvValue(stack.operatorEnvFile, 'DATA_ROLE_ARN', arn);
        ctx.state.dataRoleArn = arn;
      }));
    }
    return toState(changes, `${arn} (${phase})`);
  },
};
