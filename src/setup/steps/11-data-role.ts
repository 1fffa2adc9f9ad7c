import { setEnvValue } from '../../config/env-writeback.js';
import { dataRoleInline, dataRoleStaticTrust, json, roleArn } from '../policies.js';
import { iamRole } from '../resources.js';
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
    const { aws } = ctx;
    const name = stack.dataRole;
    const role = iamRole(ctx, name);
    const current = await role.read();
    const phase = phaseOf(ctx, current);
    // The trust is this step's only until federation; after that it belongs to the oidc step.
    const changes: Change[] = current
      ? []
      : [role.create(json(dataRoleStaticTrust(stack)), 'agentkeys email data role', `trusts ${stack.daemonUser}`)];
    const inline = {
      name: `${name}-inline`,
      document: json(dataRoleInline(stack)),
      detail: 'mail bucket read, SES send',
    };
    if (phase === 'static') changes.push(...(await role.inline(current !== undefined, inline)));
    else if (await aws.getRolePolicy(name, inline.name))
      changes.push(
        change('delete', inline.name, () => aws.deleteRolePolicy(name, inline.name), 'federated: the broad grant goes'),
      );
    const arn = roleArn(stack, name);
    if (ctx.state.dataRoleArn !== arn) {
      changes.push(
        change('write', `DATA_ROLE_ARN in ${stack.operatorEnvFile}`, async () => {
          await setEnvValue(stack.operatorEnvFile, 'DATA_ROLE_ARN', arn);
          ctx.state.dataRoleArn = arn;
        }),
      );
    }
    return toState(changes, `${arn} (${phase})`);
  },
  teardown: (ctx) => iamRole(ctx, ctx.stack.dataRole).teardown(),
};
