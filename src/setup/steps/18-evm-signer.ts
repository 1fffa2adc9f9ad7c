import { createOrAdoptKey, describeKeyIfExists } from '../../aws/keys.js';
import { samePolicy } from '../policy-compare.js';
import { dataRoleStaticTrust, evmSignerPolicy, json } from '../policies.js';
import type { Stack } from '../stack.js';
import { blocked, change, done, type Change, type SetupContext, type Step } from '../step.js';
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
    // The role policy names the key ARN, which a created key only has once it exists.
    let keyArn = meta?.Arn;
    const createKey = async () => {
      keyArn = (await createOrAdoptKey(ctx.kms, { spec: SPEC, alias: names.alias, description: `agentkeys EVM signer (${ctx.stack.name})` })).meta.Arn;
    };
    const changes: Change[] = meta ? [] : [change('create', `KMS key ${names.alias}`, createKey, `${SPEC}, SIGN_VERIFY`)];
    changes.push(...(await roleChanges(ctx, names, meta?.Arn, () => keyArn!)));
    return toState(changes, `${names.alias} → ${meta?.Arn}; ${names.role} may Sign, GetPublicKey, DescribeKey on it only`);
  },
};

async function roleChanges(ctx: SetupContext, names: EvmSignerNames, keyArn: string | undefined, arnWhenApplied: () => string): Promise<Change[]> {
  const { aws } = ctx;
  const trust = json(dataRoleStaticTrust(ctx.stack));
  const putPolicy = () => aws.putRolePolicy(names.role, names.policy, json(evmSignerPolicy(arnWhenApplied())));
  const role = await aws.getRole(names.role);
  if (!role) {
    return [
      change('create', `IAM role ${names.role}`, () => aws.createRole(names.role, trust, 'agentkeys EVM signer (seed 002 minimal runtime policy)'), `trusts ${ctx.stack.daemonUser}`),
      change('create', `${names.role}/${names.policy}`, putPolicy, 'kms:Sign, kms:GetPublicKey, kms:DescribeKey'),
    ];
  }
  const changes: Change[] = [];
  if (!samePolicy(role.trust, trust)) changes.push(change('update', `IAM role ${names.role} trust`, () => aws.updateTrust(names.role, trust)));
  const current = await aws.getRolePolicy(names.role, names.policy);
  if (!keyArn || !samePolicy(current, json(evmSignerPolicy(keyArn)))) {
    changes.push(change(current ? 'update' : 'create', `${names.role}/${names.policy}`, putPolicy, 'kms:Sign, kms:GetPublicKey, kms:DescribeKey on the key ARN'));
  }
  return changes;
}
