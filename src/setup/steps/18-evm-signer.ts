import { createOrAdoptKey, describeKeyIfExists } from '../../aws/keys.js';
import { samePolicy } from '../policy-compare.js';
import { dataRoleStaticTrust, evmSignerPolicy, json } from '../policies.js';
import type { Stack } from '../stack.js';
import { blocked, done, type Change, type SetupContext, type Step } from '../step.js';
import { toState } from './shared.js';

const SPEC = 'ECC_SECG_P256K1';

type EvmSignerNames = NonNullable<Stack['evmSigner']>;

/**
 * Optional (EVM_SIGNER=true in the operator env file): the Agentic Vault signer of seed 002, a
 * secp256k1 KMS key behind alias/agentkeys-evm[-test] and a role holding exactly the seed's
 * minimal runtime policy (kms:Sign, kms:GetPublicKey, kms:DescribeKey on that one key ARN).
 * The role is trusted by the stack's daemon user; `agentkeys mcp --role-arn` assumes it.
 */
export const evmSignerStep: Step = {
  num: 18,
  id: 'evm-signer',
  title: 'Create the EVM signing key and its least-privilege role (optional)',
  async check(ctx) {
    const names = ctx.stack.evmSigner;
    if (!names) return done(`not enabled (set EVM_SIGNER=true in ${ctx.stack.operatorEnvFile})`);
    const meta = await describeKeyIfExists(ctx.kms, names.alias);
    if (meta && meta.KeySpec !== SPEC) return blocked(`${names.alias} names a ${meta.KeySpec} key (${meta.Arn}), not ${SPEC}`, 'point the alias at a secp256k1 key or choose EVM_SIGNER_ALIAS');
    const changes: Change[] = meta ? [] : [{ action: 'create', resource: `KMS key ${names.alias}`, detail: `${SPEC}, SIGN_VERIFY` }];
    changes.push(...(await roleChanges(ctx, names, meta?.Arn)));
    return toState(changes, `${names.alias} → ${meta?.Arn}; ${names.role} may Sign, GetPublicKey, DescribeKey on it only`);
  },
  // Each part converges on its own (create if missing, replace if different), so a partly built
  // signer is finished and a second run changes nothing.
  async apply(ctx) {
    const names = ctx.stack.evmSigner!;
    const { meta } = await createOrAdoptKey(ctx.kms, { spec: SPEC, alias: names.alias, description: `agentkeys EVM signer (${ctx.stack.name})` });
    const trust = json(dataRoleStaticTrust(ctx.stack));
    const policy = json(evmSignerPolicy(meta.Arn!));
    const role = await ctx.aws.getRole(names.role);
    if (!role) await ctx.aws.createRole(names.role, trust, 'agentkeys EVM signer (seed 002 minimal runtime policy)');
    else if (!samePolicy(role.trust, trust)) await ctx.aws.updateTrust(names.role, trust);
    if (!samePolicy(await ctx.aws.getRolePolicy(names.role, names.policy), policy)) await ctx.aws.putRolePolicy(names.role, names.policy, policy);
  },
};

async function roleChanges(ctx: SetupContext, names: EvmSignerNames, keyArn: string | undefined): Promise<Change[]> {
  const role = await ctx.aws.getRole(names.role);
  if (!role) return [{ action: 'create', resource: `IAM role ${names.role}`, detail: `trusts ${ctx.stack.daemonUser}` }, { action: 'create', resource: `${names.role}/${names.policy}`, detail: 'kms:Sign, kms:GetPublicKey, kms:DescribeKey' }];
  const changes: Change[] = [];
  if (!samePolicy(role.trust, json(dataRoleStaticTrust(ctx.stack)))) changes.push({ action: 'update', resource: `IAM role ${names.role} trust` });
  const current = await ctx.aws.getRolePolicy(names.role, names.policy);
  if (!keyArn || !samePolicy(current, json(evmSignerPolicy(keyArn)))) {
    changes.push({ action: current ? 'update' : 'create', resource: `${names.role}/${names.policy}`, detail: 'kms:Sign, kms:GetPublicKey, kms:DescribeKey on the key ARN' });
  }
  return changes;
}
