// Retiring a rotated-out signing key (issue 24): once no writer signs with it and every verifier
// can check its events without KMS, the old key is disabled, so a leaked grant or role can no
// longer sign with it. An asymmetric key verifies from the registry's public key; an HMAC key
// verifies only through KMS, so it is kept (disabling it would make its chains unverifiable).
import { createPublicKey } from 'node:crypto';
import type { KeyMetadata, KmsApi } from '../aws/kms.js';
import { UsageError } from '../errors.js';
import type { SignerEntry, SignerRegistry } from './registry.js';

export interface RetirePlan {
  arn: string;
  /** The kids its events carry, each verifiable from the registry. */
  kids: string[];
  /** Already disabled: nothing to do. */
  alreadyDisabled: boolean;
}

/**
 * What must hold before the key is disabled; each failure is a usage error naming what still needs
 * the key. `force` waives only the overlap (validTo still ahead): nothing waives a verifier's need.
 */
export async function planRetirement(
  kms: KmsApi,
  meta: KeyMetadata,
  registry: SignerRegistry,
  registryName: string,
  opts: { now: Date; force: boolean },
): Promise<RetirePlan> {
  const arn = meta.Arn!;
  const usage = meta.KeyUsage ?? (meta.KeySpec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined);
  if (usage === 'GENERATE_VERIFY_MAC')
    throw new UsageError({
      code: 'KMS_KEY_STILL_NEEDED',
      message: `${arn} is an HMAC key: its chains verify only through KMS (VerifyMac), so it stays enabled`,
      hint: 'keep it for as long as its events must verify; new events already go to the new key',
    });
  if (usage !== 'SIGN_VERIFY')
    throw new UsageError({
      code: 'KMS_KEY_WRONG_USAGE',
      message: `${arn} is a ${usage ?? 'unknown'} key, not an audit signing key`,
      hint: 'keys disable --key … stops an encryption key (its data then cannot be decrypted)',
    });
  const aliases = (await kms.listAliases(meta.KeyId)).map((a) => a.AliasName);
  if (aliases.length > 0)
    throw new UsageError({
      code: 'KMS_KEY_IN_USE',
      message: `${aliases.join(', ')} still name${aliases.length === 1 ? 's' : ''} ${arn}: writers sign with it`,
      hint: `rotate first: agentkeys rotate-key --alias ${aliases[0]}`,
    });
  const entries = registry.signers.filter((s) => s.keyArn === arn || s.signerId === arn);
  await assertVerifiableOffline(kms, arn, entries, registryName);
  const open = entries.filter((e) => !e.validTo || Date.parse(e.validTo) > opts.now.getTime());
  if (open.length > 0 && !opts.force)
    throw new UsageError({
      code: 'KEY_OVERLAP_OPEN',
      message:
        `${registryName} still accepts new events from ${arn} (${open
          .map((e) => `${e.signerId} ${e.validTo ? `until ${e.validTo}` : 'with no validTo'}`)
          .join(', ')}): ` + 'a writer that has not moved to the new key would fail',
      hint: 'wait for the overlap to end, or --force once every writer signs with the new key',
    });
  return { arn, kids: entries.map((e) => e.signerId), alreadyDisabled: meta.KeyState === 'Disabled' };
}

/** The registry must hold the key's own public key, or its events would need KMS once it is disabled. */
async function assertVerifiableOffline(
  kms: KmsApi,
  arn: string,
  entries: readonly SignerEntry[],
  registryName: string,
): Promise<void> {
  const der = Buffer.from(await kms.getPublicKey(arn));
  const matches = entries.filter((e) => {
    if (!e.publicKey) return false;
    try {
      return createPublicKey(e.publicKey).export({ type: 'spki', format: 'der' }).equals(der);
    } catch {
      return false;
    }
  });
  if (matches.length > 0 && matches.length === entries.length) return;
  throw new UsageError({
    code: 'KMS_KEY_STILL_NEEDED',
    message:
      entries.length === 0
        ? `${registryName} does not list ${arn}: its events would verify only through KMS`
        : `${registryName} lists ${arn} without its public key (or with another one): ` +
          'its events would verify only through KMS',
    hint: 'publish it first: agentkeys signers rebuild --log … (or keys create/rotate-key with --signers)',
  });
}

/**
 * Plans, asks, disables: `confirm` is asked only when there is something to do, and the cached
 * metadata of every key is dropped after, so no writer here trusts a stale Enabled state.
 */
export async function retireKey(
  kms: KmsApi,
  keyRef: string,
  registry: { path: string; read: (file: string) => Promise<SignerRegistry> },
  opts: {
    now: Date;
    force: boolean;
    confirm: (question: string) => Promise<void>;
    /** DisableKey (src/aws/kms-lifecycle.ts): this module stays free of AWS code. */
    disableKey: (keyId: string) => Promise<void>;
    afterChange: () => Promise<void>;
  },
): Promise<RetirePlan> {
  const meta = await kms.describeKey(keyRef);
  const plan = await planRetirement(kms, meta, await registry.read(registry.path), registry.path, opts);
  if (plan.alreadyDisabled) return plan;
  await opts.confirm(`disable ${plan.arn}? its events keep verifying from ${registry.path}`);
  // By key ID: AWS takes an ID or an ARN, and moto 5.2.1's lifecycle calls resolve IDs only.
  await opts.disableKey(meta.KeyId!);
  await opts.afterChange();
  return plan;
}
