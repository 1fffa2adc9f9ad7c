import type { KeyMetadata, KeyRotationStatus, KeySpec, KeyUsageType, KmsApi } from '../aws/kms.js';
import { AgentkeysError, UsageError } from '../errors.js';

export interface KeyDescription {
  keyArn: string;
  keyId: string;
  spec: string;
  usage: string;
  state: string;
  origin: string;
  customKeyStoreId: string | null;
  multiRegion: 'PRIMARY' | 'REPLICA' | null;
  replicaRegions: string[];
  aliases: string[];
  createdAt: string | null;
  ageDays: number | null;
  /** KMS-native rotation: symmetric AWS_KMS keys only; the others rotate with `agentkeys rotate-key`. */
  rotation: ({ supported: true } & KeyRotationStatus) | { supported: false; reason: string };
}

/** Whether KMS can rotate the key itself (AWS: symmetric encryption keys in AWS_KMS, not imported, not HSM). */
export function nativeRotationRefusal(meta: KeyMetadata): string | undefined {
  if (meta.KeySpec !== 'SYMMETRIC_DEFAULT') return `${meta.KeySpec} keys rotate with agentkeys rotate-key`;
  if (meta.Origin && meta.Origin !== 'AWS_KMS') return `${meta.Origin} keys cannot rotate in KMS`;
  if (meta.MultiRegionConfiguration?.MultiRegionKeyType === 'REPLICA') return 'a replica rotates with its primary';
  return undefined;
}

export async function describeKey(kms: KmsApi, keyRef: string, now = new Date()): Promise<KeyDescription> {
  const meta = await kms.describeKey(keyRef);
  const aliases = (await kms.listAliases(meta.KeyId)).map((a) => a.AliasName);
  const refusal = nativeRotationRefusal(meta);
  const rotation: KeyDescription['rotation'] = refusal
    ? { supported: false, reason: refusal }
    : { supported: true, ...(await kms.getKeyRotationStatus(meta.Arn!)) };
  const created = meta.CreationDate ? new Date(meta.CreationDate) : null;
  return {
    keyArn: meta.Arn!,
    keyId: meta.KeyId!,
    spec: meta.KeySpec ?? 'UNKNOWN',
    usage: meta.KeyUsage ?? 'UNKNOWN',
    state: meta.KeyState ?? 'UNKNOWN',
    origin: meta.Origin ?? 'AWS_KMS',
    customKeyStoreId: meta.CustomKeyStoreId ?? null,
    multiRegion: meta.MultiRegion
      ? ((meta.MultiRegionConfiguration?.MultiRegionKeyType as 'PRIMARY' | 'REPLICA') ?? 'PRIMARY')
      : null,
    replicaRegions: (meta.MultiRegionConfiguration?.ReplicaKeys ?? []).map((r) => r.Region!).filter(Boolean),
    aliases,
    createdAt: created ? created.toISOString() : null,
    ageDays: created ? Math.floor((now.getTime() - created.getTime()) / 86_400_000) : null,
    rotation,
  };
}

/** The seed's rotation policy (001: rotationIntervalDays 90, maxKeyAge 365 days). */
export interface RotationPolicy {
  intervalDays: number;
  maxAgeDays: number;
}

export const DEFAULT_ROTATION_POLICY: RotationPolicy = { intervalDays: 90, maxAgeDays: 365 };

export interface RotationAdvice {
  keyArn: string;
  ageDays: number;
  shouldRotate: boolean;
  pastMaxAge: boolean;
  reason: string;
}

export function adviseRotation(desc: KeyDescription, policy: RotationPolicy): RotationAdvice {
  const age = desc.ageDays ?? 0;
  if (desc.rotation.supported && desc.rotation.enabled) {
    const every = desc.rotation.periodDays ? ` every ${desc.rotation.periodDays} days` : '';
    const next = desc.rotation.nextRotation ? `, next ${desc.rotation.nextRotation.slice(0, 10)}` : '';
    return {
      keyArn: desc.keyArn,
      ageDays: age,
      shouldRotate: false,
      pastMaxAge: false,
      reason: `${age} days old: KMS rotates it${every}${next}`,
    };
  }
  const pastMaxAge = age >= policy.maxAgeDays;
  const shouldRotate = age >= policy.intervalDays;
  const reason = pastMaxAge
    ? `${age} days old: past the ${policy.maxAgeDays}-day maximum age`
    : shouldRotate
      ? `${age} days old: the ${policy.intervalDays}-day rotation interval has passed`
      : `${age} days old: next rotation due in ${policy.intervalDays - age} days`;
  return { keyArn: desc.keyArn, ageDays: age, shouldRotate, pastMaxAge, reason };
}

export interface CreateKeyOptions {
  spec: string;
  alias?: string;
  multiRegion?: boolean;
  customKeyStoreId?: string;
  description?: string;
  /** KMS-native rotation period for a symmetric key (AWS: 90–2560 days); default 90. */
  rotationPeriodDays?: number;
}

export const ROTATION_PERIOD_DAYS = { min: 90, max: 2560, default: DEFAULT_ROTATION_POLICY.intervalDays };

const USAGE_BY_SPEC: [RegExp, KeyUsageType][] = [
  [/^SYMMETRIC_DEFAULT$/, 'ENCRYPT_DECRYPT'],
  [/^HMAC_/, 'GENERATE_VERIFY_MAC'],
  [/^(RSA_|ECC_)/, 'SIGN_VERIFY'],
];

/**
 * Creates a key, or adopts the one the alias already names (a second run creates nothing).
 * CloudHSM custom key stores hold symmetric keys only (AWS), which is checked before calling.
 */
export async function createOrAdoptKey(
  kms: KmsApi,
  opts: CreateKeyOptions,
): Promise<{ meta: KeyMetadata; created: boolean }> {
  const usage = USAGE_BY_SPEC.find(([re]) => re.test(opts.spec))?.[1];
  if (!usage)
    throw new UsageError({
      code: 'KEY_SPEC_INVALID',
      message: `unknown key spec ${opts.spec}`,
      hint: 'SYMMETRIC_DEFAULT, RSA_2048, ECC_NIST_P256, ECC_SECG_P256K1, ECC_NIST_EDWARDS25519, HMAC_256',
    });
  if (opts.customKeyStoreId && opts.spec !== 'SYMMETRIC_DEFAULT') {
    throw new UsageError({
      code: 'KEY_SPEC_INVALID',
      message: 'CloudHSM custom key stores hold SYMMETRIC_DEFAULT keys only',
      hint: 'drop --custom-key-store or use --spec SYMMETRIC_DEFAULT',
    });
  }
  const adopted = opts.alias ? await describeKeyIfExists(kms, opts.alias) : undefined;
  if (adopted) {
    if (adopted.KeySpec !== opts.spec)
      throw new UsageError({
        code: 'ALIAS_TAKEN',
        message: `${opts.alias} already names a ${adopted.KeySpec} key (${adopted.Arn})`,
        hint: 'choose another --alias, or rotate that key: agentkeys rotate-key --alias …',
      });
    await ensureNativeRotation(kms, adopted, opts);
    return { meta: adopted, created: false };
  }
  const meta = await kms.createKey({
    KeySpec: opts.spec as KeySpec,
    KeyUsage: usage,
    ...(opts.multiRegion ? { MultiRegion: true } : {}),
    ...(opts.customKeyStoreId ? { CustomKeyStoreId: opts.customKeyStoreId, Origin: 'AWS_CLOUDHSM' as const } : {}),
    Description: opts.description ?? `agentkeys ${opts.spec} key${opts.alias ? ` (${opts.alias})` : ''}`,
    Tags: [
      { TagKey: 'agentkeys:managed', TagValue: 'true' },
      ...(opts.alias ? [{ TagKey: 'agentkeys:alias', TagValue: opts.alias }] : []),
    ],
  });
  if (opts.alias) await kms.createAlias(opts.alias, meta.KeyId!);
  await ensureNativeRotation(kms, meta, opts);
  return { meta, created: true };
}

/** Symmetric keys rotate in KMS (old ciphertext still decrypts): turned on, at the asked period. */
async function ensureNativeRotation(kms: KmsApi, meta: KeyMetadata, opts: CreateKeyOptions): Promise<void> {
  if (nativeRotationRefusal(meta) || opts.customKeyStoreId) return;
  const period = opts.rotationPeriodDays ?? ROTATION_PERIOD_DAYS.default;
  const status = await kms.getKeyRotationStatus(meta.Arn!);
  if (status.enabled && (status.periodDays === undefined || status.periodDays === period)) return;
  await kms.enableKeyRotation(meta.Arn!, period);
}

/** One DescribeKey by alias: the key it names, or undefined when the alias does not exist. */
export async function describeKeyIfExists(kms: KmsApi, alias: string): Promise<KeyMetadata | undefined> {
  try {
    return await kms.describeKey(alias);
  } catch (err) {
    if (err instanceof AgentkeysError && err.code === 'KMS_KEY_NOT_FOUND') return undefined;
    throw err;
  }
}

/** Replicates a multi-region key; a region that already has a replica is left alone. */
export async function replicateKey(
  kms: KmsApi,
  keyRef: string,
  regions: string[],
): Promise<{ region: string; action: 'created' | 'exists'; keyArn: string }[]> {
  const meta = await kms.describeKey(keyRef);
  if (!meta.MultiRegion) {
    // Checked here: moto answers ReplicateKey on a single-region key with HTTP 500.
    throw new UsageError({
      code: 'KMS_KEY_NOT_MULTI_REGION',
      message: `${meta.Arn} is a single-region key and cannot be replicated`,
      hint: 'create a multi-region key: agentkeys keys create --spec … --multi-region',
    });
  }
  const existing = new Map((meta.MultiRegionConfiguration?.ReplicaKeys ?? []).map((r) => [r.Region!, r.Arn!]));
  const out: { region: string; action: 'created' | 'exists'; keyArn: string }[] = [];
  for (const region of regions) {
    if (region === kms.region)
      throw new UsageError({ code: 'REPLICA_REGION_INVALID', message: `${region} is the key's own region` });
    const arn = existing.get(region);
    if (arn) {
      out.push({ region, action: 'exists', keyArn: arn });
      continue;
    }
    // The key id, not the ARN: both work on AWS, and moto 5.2.1 fails with HTTP 500 on the ARN.
    const replica = await kms.replicateKey(meta.KeyId!, region);
    out.push({ region, action: 'created', keyArn: replica.Arn! });
  }
  return out;
}
