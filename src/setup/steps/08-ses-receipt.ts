import type { ReceiptRule } from '../../aws/setup-api.js';
import { AbortError } from '../../errors.js';
import type { TeardownAction } from '../resources.js';
import { blocked, change, done, pending, type Change, type SetupContext, type Step } from '../step.js';

function desiredRule(ctx: SetupContext): ReceiptRule {
  return {
    Name: ctx.stack.receiptRule,
    Enabled: true,
    ScanEnabled: true,
    TlsPolicy: 'Optional',
    Recipients: [ctx.stack.mailDomain],
    Actions: [{ S3Action: { BucketName: ctx.stack.mailBucket, ObjectKeyPrefix: 'inbound/' } }],
  };
}

/** Drift in recipients, bucket or prefix is a change, not just a missing rule (weakness 8). */
function ruleMatches(actual: ReceiptRule, want: ReceiptRule): boolean {
  const s3 = actual.Actions?.[0]?.S3Action;
  const wantS3 = want.Actions![0]!.S3Action!;
  return (
    actual.Enabled === true &&
    actual.ScanEnabled === true &&
    actual.TlsPolicy === want.TlsPolicy &&
    JSON.stringify(actual.Recipients ?? []) === JSON.stringify(want.Recipients) &&
    actual.Actions?.length === 1 &&
    s3?.BucketName === wantS3.BucketName &&
    s3?.ObjectKeyPrefix === wantS3.ObjectKeyPrefix
  );
}

/**
 * SES v1 receipt rules (no v2 equivalent). The rule set `agentkeys` is shared by prod and test;
 * each stack owns only its suffixed rule. Activating the set deactivates any other set in the
 * account, so that asks first (--yes).
 */
export const sesReceiptStep: Step = {
  num: 8,
  id: 'ses-receipt',
  title: 'Route inbound mail to the bucket (SES receipt rule)',
  async check(ctx) {
    const { stack } = ctx;
    if ((await ctx.aws.headBucket(stack.mailBucket)) !== 'exists')
      return blocked(`mail bucket ${stack.mailBucket} does not exist`, 'run step 7 first');
    const { aws } = ctx;
    const changes: Change[] = [];
    const rules = await aws.describeRuleSet(stack.ruleSet);
    if (!rules) changes.push(change('create', `SES rule set ${stack.ruleSet}`, () => aws.createRuleSet(stack.ruleSet)));
    const rule = rules?.includes(stack.receiptRule)
      ? await aws.describeRule(stack.ruleSet, stack.receiptRule)
      : undefined;
    const desired = desiredRule(ctx);
    if (!rule)
      changes.push(
        change(
          'create',
          `SES rule ${stack.receiptRule}`,
          () => aws.createRule(stack.ruleSet, desired),
          `${stack.mailDomain} → s3://${stack.mailBucket}/inbound/`,
        ),
      );
    else if (!ruleMatches(rule, desired))
      changes.push(
        change(
          'update',
          `SES rule ${stack.receiptRule}`,
          () => aws.updateRule(stack.ruleSet, desired),
          'recipients, bucket or prefix drifted',
        ),
      );
    const active = await aws.activeRuleSet();
    if (active !== stack.ruleSet) changes.push(activateChange(ctx, active));
    return changes.length
      ? pending(changes)
      : done(`${stack.mailDomain} → s3://${stack.mailBucket}/inbound/ via ${stack.ruleSet}/${stack.receiptRule}`);
  },
  /** Our rule; the shared rule set only when no other stack's rule is left in it. */
  async teardown(ctx) {
    const { stack, aws } = ctx;
    const rules = await aws.describeRuleSet(stack.ruleSet);
    if (!rules) return [];
    const actions: TeardownAction[] = [];
    if (rules.includes(stack.receiptRule))
      actions.push({
        resource: `SES rule ${stack.ruleSet}/${stack.receiptRule}`,
        action: 'delete',
        apply: () => aws.deleteRule(stack.ruleSet, stack.receiptRule),
      });
    if (rules.every((r) => r === stack.receiptRule)) {
      actions.push({
        resource: `SES rule set ${stack.ruleSet} (no other stack's rule is in it)`,
        action: 'delete',
        apply: async () => {
          if ((await aws.activeRuleSet()) === stack.ruleSet) await aws.setActiveRuleSet(undefined);
          await aws.deleteRuleSet(stack.ruleSet);
        },
      });
    }
    return actions;
  },
};

/** Activating is account-wide: replacing another active rule set needs the operator's yes. */
function activateChange(ctx: SetupContext, active: string | undefined): Change {
  const { stack } = ctx;
  const detail = active ? `replaces the active set ${active} (account-wide)` : 'none is active';
  return change(
    'activate',
    `SES rule set ${stack.ruleSet}`,
    async () => {
      if (active && !(await ctx.confirm(`Activate SES rule set ${stack.ruleSet}? It ${detail}.`))) {
        throw new AbortError({
          code: 'CONFIRMATION_REQUIRED',
          message: `not activating ${stack.ruleSet}: it would deactivate another rule set`,
          hint: 'add --yes to confirm',
        });
      }
      await ctx.aws.setActiveRuleSet(stack.ruleSet);
    },
    detail,
  );
}
