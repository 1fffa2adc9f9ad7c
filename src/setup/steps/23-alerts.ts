import { describeKeyIfExists } from '../../signing/kms-keys.js';
import { brokerWatchPolicy, json } from '../policies.js';
import { inlinePolicyChange, type TeardownAction } from '../resources.js';
import { change, type Change, type SetupContext, type Step } from '../step.js';
import { toState } from './shared.js';

const watchPolicy = (ctx: SetupContext) => `${ctx.stack.brokerHostRole}-watch`;

/**
 * Issue 27: where the broker host's scheduled proofs report. The SNS topic agentkeys-alerts[-test]
 * (ALERT_TARGET=sns:<its ARN> in the broker env file), ALERT_EMAIL subscribed to it (SNS mails a
 * confirmation link first), and the broker host role's grant to publish there and to read the audit
 * key's rotation state (the rotation watch); its witness reads come with the signing grant (step 21).
 */
export const alertsStep: Step = {
  num: 23,
  id: 'alerts',
  title: "Create the alert topic, subscribe ALERT_EMAIL, and grant the broker host's watches",
  async check(ctx) {
    const { stack, aws } = ctx;
    const { topicArn, topicName, email } = stack.alerts;
    const topic = await aws.getTopic(topicArn);
    const changes: Change[] = [];
    if (!topic) changes.push(change('create', `SNS topic ${topicName}`, () => aws.createTopic(topicName)));
    const subscriptions = topic ? await aws.listSubscriptions(topicArn) : [];
    const mine = email ? subscriptions.find((s) => s.protocol === 'email' && s.endpoint === email) : undefined;
    if (email && !mine)
      changes.push(
        change(
          'create',
          `subscription ${email} → ${topicName}`,
          () => aws.subscribe(topicArn, 'email', email),
          'SNS mails a confirmation link: open it, or no alert reaches the address',
        ),
      );
    changes.push(...(await grantChanges(ctx)));
    const pending = !mine || mine.arn === 'PendingConfirmation';
    const mail = !email
      ? 'no ALERT_EMAIL'
      : `${email} ${pending ? '(confirmation pending: open the link SNS mailed)' : 'confirmed'}`;
    return toState(changes, `${topicArn}; ${mail}; ${stack.brokerHostRole} may publish there`);
  },
  async teardown(ctx) {
    const { stack, aws } = ctx;
    const actions: TeardownAction[] = [];
    if (await aws.getRolePolicy(stack.brokerHostRole, watchPolicy(ctx)))
      actions.push({
        resource: `${stack.brokerHostRole}/${watchPolicy(ctx)}`,
        action: 'delete',
        apply: () => aws.deleteRolePolicy(stack.brokerHostRole, watchPolicy(ctx)),
      });
    if (await aws.getTopic(stack.alerts.topicArn))
      actions.push({
        resource: `SNS topic ${stack.alerts.topicName}`,
        action: 'delete',
        apply: () => aws.deleteTopic(stack.alerts.topicArn),
      });
    return actions;
  },
};

/** The watch grant on the broker host role (step 20 creates the role earlier in the same run). */
async function grantChanges(ctx: SetupContext): Promise<Change[]> {
  const { stack, aws } = ctx;
  const role = stack.brokerHostRole;
  const name = watchPolicy(ctx);
  const key = await describeKeyIfExists(ctx.kms, stack.kmsAuditAlias);
  // A key step 15 creates in this run has its ARN once applied: the grant renders then.
  const document = async () =>
    json(brokerWatchPolicy(stack, (await describeKeyIfExists(ctx.kms, stack.kmsAuditAlias))!.Arn!));
  const put = async () => aws.putRolePolicy(role, name, await document());
  const detail = `sns:Publish on ${stack.alerts.topicName}; kms:DescribeKey, GetKeyRotationStatus on the audit key`;
  const exists = (await aws.getRole(role)) !== undefined;
  if (!key || !exists) return [change('create', `${role}/${name}`, put, detail)];
  const current = await aws.getRolePolicy(role, name);
  const want = json(brokerWatchPolicy(stack, key.Arn!));
  return inlinePolicyChange(current, { name, label: `${role}/${name}`, document: want, detail }, put);
}
