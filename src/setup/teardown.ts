import { rm } from 'node:fs/promises';
import { setEnvValue } from '../config/env-writeback.js';
import { fileExists } from '../sys/fs.js';
import type { SetupContext } from './step.js';

/** One deletion, planned read-only first, applied in reverse dependency order (setup-steps.md §4). */
export interface TeardownAction {
  order: number;
  resource: string;
  detail?: string;
  /** Deleting bucket contents: asks again, separately. */
  destroysData?: boolean;
  run(): Promise<void>;
}

export interface TeardownOptions {
  keepData: boolean;
}

const HOST_TYPES = new Set(['A', 'MX', 'TXT', 'CNAME']);

/**
 * Everything this stack owns that still exists, by exact name (never by prefix), each delete
 * idempotent. The shared SES rule set is deleted only when this stack's rule was its last one,
 * so the other stack is never touched. A second run finds nothing and does nothing.
 */
export async function planTeardown(ctx: SetupContext, opts: TeardownOptions): Promise<TeardownAction[]> {
  const { stack, aws } = ctx;
  const actions: TeardownAction[] = [];
  const add = (order: number, resource: string, run: () => Promise<void>, extra: Partial<TeardownAction> = {}) => actions.push({ order, resource, run, ...extra });

  // 1. DNS: only records that point at this stack's EIP or SES, deleted with their current values.
  const tagged = await aws.addressesByTag(stack.eipTag);
  const eips = new Set(tagged.map((a) => a.publicIp));
  const owned = new Set([...stack.hosts, stack.mailDomain, `_dmarc.${stack.mailDomain}`].map((h) => `${h}.`));
  const records = await aws.listRecordSets(stack.parentZoneId);
  const ours = records.filter((r) => HOST_TYPES.has(r.Type!) && (owned.has(r.Name!) || r.Name!.endsWith(`._domainkey.${stack.mailDomain}.`)))
    .filter((r) => r.Type !== 'A' || r.ResourceRecords?.every((v) => eips.has(v.Value!)));
  if (ours.length > 0) add(1, `${ours.length} DNS record(s) in ${stack.zone}`, () => aws.changeRecordSets(stack.parentZoneId, ours.map((r) => ({ Action: 'DELETE', ResourceRecordSet: r })), `agentkeys teardown (${stack.name})`));

  // 2. SES inbound: our rule; the shared set only if it is then empty.
  const rules = await aws.describeRuleSet(stack.ruleSet);
  if (rules?.includes(stack.receiptRule)) add(2, `SES rule ${stack.ruleSet}/${stack.receiptRule}`, () => aws.deleteRule(stack.ruleSet, stack.receiptRule));
  if (rules && rules.every((r) => r === stack.receiptRule)) {
    add(2.5, `SES rule set ${stack.ruleSet} (no other stack's rule is in it)`, async () => {
      if ((await aws.activeRuleSet()) === stack.ruleSet) await aws.setActiveRuleSet(undefined);
      await aws.deleteRuleSet(stack.ruleSet);
    });
  }
  // 3. SES identities.
  for (const identity of [stack.senderAddress, stack.mailDomain]) {
    if (await aws.getEmailIdentity(identity)) add(3, `SES identity ${identity}`, () => aws.deleteEmailIdentity(identity));
  }
  // 4. Buckets: contents first (asked separately), then the bucket.
  if (!opts.keepData) {
    for (const bucket of [stack.mailBucket, ...stack.dataClasses.map((d) => d.bucket)]) {
      if ((await aws.headBucket(bucket)) !== 'exists') continue;
      const objects = await aws.countObjectVersions(bucket);
      add(4, `s3://${bucket}`, async () => {
        await aws.emptyBucket(bucket);
        await aws.deleteBucket(bucket);
      }, objects > 0 ? { destroysData: true, detail: `${objects}${objects >= 1000 ? '+' : ''} object version(s)` } : {});
    }
  }
  // 6. Roles: inline and attached policies, then the role. 7. The OIDC provider after them.
  for (const role of [stack.dataRole, ...stack.dataClasses.map((d) => d.role), ...(stack.evmSigner ? [stack.evmSigner.role] : [])]) {
    if (!(await aws.getRole(role))) continue;
    add(6, `IAM role ${role}`, async () => {
      for (const p of await aws.listRolePolicies(role)) await aws.deleteRolePolicy(role, p);
      for (const arn of await aws.listAttachedRolePolicies(role)) await aws.detachRolePolicy(role, arn);
      await aws.deleteRole(role);
    });
  }
  if (await aws.getOidcProvider(stack.oidcProviderArn)) add(7, `OIDC provider ${stack.oidcIssuer}`, () => aws.deleteOidcProvider(stack.oidcProviderArn));
  // 8. Users: keys, policies, then the user.
  for (const user of [stack.daemonUser, stack.sshUser]) {
    if (!(await aws.getUser(user))) continue;
    add(8, `IAM user ${user}`, async () => {
      for (const k of await aws.listAccessKeys(user)) await aws.deleteAccessKey(user, k.id);
      for (const p of await aws.listUserPolicies(user)) await aws.deleteUserPolicy(user, p);
      for (const arn of await aws.listAttachedUserPolicies(user)) await aws.detachUserPolicy(user, arn);
      await aws.deleteUser(user);
    });
  }
  // 9. The EIP (the instance is never terminated).
  for (const address of tagged) {
    add(9, `Elastic IP ${address.publicIp}`, async () => {
      if (address.associationId) await aws.disassociateAddress(address.associationId);
      await aws.releaseAddress(address.allocationId);
    });
  }
  // The access keys just deleted are useless; their 0600 file goes too.
  if (await fileExists(ctx.credentialsFile)) add(10, `credentials file ${ctx.credentialsFile}`, async () => void (await rm(ctx.credentialsFile, { force: true })));
  // The KMS audit key (and the EVM signer's key) is kept on purpose: what it signed must stay
  // verifiable, and the EVM key holds an address that may own funds.
  // 10. Write-backs.
  if (stack.eip) add(10, `EIP in ${stack.brokerEnvFile}`, async () => void (await setEnvValue(stack.brokerEnvFile, 'EIP', '')));
  return actions.sort((a, b) => a.order - b.order);
}

export async function applyTeardown(actions: TeardownAction[], onDone: (a: TeardownAction) => void): Promise<void> {
  for (const action of actions) {
    await action.run(); // every delete treats "already gone" as done (src/aws/setup-api.ts), so re-runs converge
    onDone(action);
  }
}
