import { describeKeyIfExists } from '../../signing/kms-keys.js';
import { auditSignerPolicy, json } from '../policies.js';
import { inlinePolicyChange, type TeardownAction } from '../resources.js';
import { blocked, change, rerun, type Change, type SetupContext, type Step } from '../step.js';
import { toState } from './shared.js';

const policyName = (ctx: SetupContext) => `agentkeys-audit-sign${ctx.stack.name === 'test' ? '-test' : ''}`;

/**
 * Seed 000 §4: the principals that sign audit events need kms:Sign, kms:GetPublicKey and
 * kms:DescribeKey on the audit key, restricted to that key's ARN (never `*`, never the alias, which
 * a later rotate-key re-points). The principals are the broker host role, or AUDIT_SIGNER_ROLES.
 * They also write checkpoints to the witness bucket: PutObject and reads only (issue 21).
 */
export const auditSigningGrantStep: Step = {
  num: 21,
  id: 'audit-signing-grant',
  title: 'Grant the audit signers kms:Sign on the audit key and write-once on the witness (nothing else)',
  async check(ctx) {
    const { stack, aws } = ctx;
    const key = await describeKeyIfExists(ctx.kms, stack.kmsAuditAlias);
    const name = policyName(ctx);
    // A key created by step 15 in this run has its ARN only once applied: the grant renders then.
    const witness = stack.witness.bucket;
    const document = async () => {
      const applied = (await describeKeyIfExists(ctx.kms, stack.kmsAuditAlias))!;
      return json(auditSignerPolicy(applied.Arn!, witness, applied.KeyUsage));
    };
    const actions =
      key?.KeyUsage === 'GENERATE_VERIFY_MAC'
        ? 'kms:GenerateMac, kms:VerifyMac, kms:DescribeKey'
        : 'kms:Sign, kms:GetPublicKey, kms:DescribeKey';
    const changes: Change[] = [];
    for (const role of stack.auditSignerRoles) {
      const exists = (await aws.getRole(role)) !== undefined;
      const ours = role === stack.brokerHostRole; // step 20 creates it earlier in the same run
      if (!exists && !ours)
        return blocked(
          `AUDIT_SIGNER_ROLES names ${role}, which does not exist in ${stack.accountId}`,
          `create the role Agent Manager runs as (or fix ${stack.operatorEnvFile}), then: ${rerun(ctx, 21)}`,
        );
      const label = `${role}/${name}`;
      const detail =
        `${actions} on ${key?.Arn ?? stack.kmsAuditAlias}; ` +
        `s3:PutObject (write once) and reads on ${witness}, no delete`;
      const put = async () => aws.putRolePolicy(role, name, await document());
      if (!key || !exists) {
        changes.push(change('create', label, put, detail));
        continue;
      }
      const current = await aws.getRolePolicy(role, name);
      const want = json(auditSignerPolicy(key.Arn!, witness, key.KeyUsage));
      changes.push(...inlinePolicyChange(current, { name, label, document: want, detail }, put));
    }
    return toState(
      changes,
      `${stack.auditSignerRoles.join(', ')} may sign with ${key?.Arn} only, and write ${witness} once`,
    );
  },
  async teardown(ctx) {
    const actions: TeardownAction[] = [];
    for (const role of ctx.stack.auditSignerRoles)
      if (await ctx.aws.getRolePolicy(role, policyName(ctx)))
        actions.push({
          resource: `${role}/${policyName(ctx)}`,
          action: 'delete',
          apply: () => ctx.aws.deleteRolePolicy(role, policyName(ctx)),
        });
    return actions;
  },
};
