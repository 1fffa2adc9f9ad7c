import { createOrAdoptKey, describeKeyIfExists } from '../../signing/kms-keys.js';
import { dataRoleStaticTrust, kmsSignerPolicy, json } from '../policies.js';
import type { Stack } from '../../config/stack.js';
import { blocked, change, done, type Change, type SetupContext, type Step } from '../step.js';
import { iamRole } from '../resources.js';
import { toState } from './shared.js';

const SPEC = 'ECC_SECG_P256K1';

type EvmSignerNames = NonNullable<Stack['evmSigner']>;

/**
 * Optional (EVM_SIGNER=true in the operator env file): the Agentic Vault signer, a
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
    if (meta && meta.KeySpec !== SPEC)
      return blocked(
        `${names.alias} names a ${meta.KeySpec} key (${meta.Arn}), not ${SPEC}`,
        'point the alias at a secp256k1 key or choose EVM_SIGNER_ALIAS',
      );
    // The role policy names the key ARN, which a created key only has once it exists.
    let keyArn = meta?.Arn;
    const createKey = async () => {
      keyArn = (
        await createOrAdoptKey(ctx.kms, {
          spec: SPEC,
          alias: names.alias,
          description: `agentkeys EVM signer (${ctx.stack.name})`,
        })
      ).meta.Arn;
    };
    const changes: Change[] = meta
      ? []
      : [change('create', `KMS key ${names.alias}`, createKey, `${SPEC}, SIGN_VERIFY`)];
    changes.push(...(await roleChanges(ctx, names, meta?.Arn, () => keyArn!)));
    return toState(
      changes,
      `${names.alias} → ${meta?.Arn}; ${names.role} may Sign, GetPublicKey, DescribeKey on it only`,
    );
  },
  /** The role goes; the key stays, since its address may hold funds (it is never scheduled for deletion). */
  teardown: async (ctx) => (ctx.stack.evmSigner ? iamRole(ctx, ctx.stack.evmSigner.role).teardown() : []),
};

async function roleChanges(
  ctx: SetupContext,
  names: EvmSignerNames,
  keyArn: string | undefined,
  arnWhenApplied: () => string,
): Promise<Change[]> {
  const role = iamRole(ctx, names.role);
  const current = await role.read();
  const changes = role.ensure(
    current,
    json(dataRoleStaticTrust(ctx.stack)),
    'agentkeys EVM signer (the minimal runtime policy)',
    `trusts ${ctx.stack.daemonUser}`,
  );
  const detail = 'kms:Sign, kms:GetPublicKey, kms:DescribeKey on the key ARN';
  // A key created in this run has no ARN yet: the policy is rendered when applied, and always put.
  if (!keyArn)
    return [
      ...changes,
      change(
        'create',
        `${names.role}/${names.policy}`,
        () => ctx.aws.putRolePolicy(names.role, names.policy, json(kmsSignerPolicy(arnWhenApplied()))),
        detail,
      ),
    ];
  const policy = {
    name: names.policy,
    label: `${names.role}/${names.policy}`,
    document: json(kmsSignerPolicy(keyArn)),
    detail,
  };
  return [...changes, ...(await role.inline(current !== undefined, policy))];
}
