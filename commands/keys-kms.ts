import { parseWholeNumber } from './options.js';
import {
  adviseRotation,
  createOrAdoptKey,
  DEFAULT_ROTATION_POLICY,
  describeKey,
  nativeRotationRefusal,
  replicateKey,
  ROTATION_PERIOD_DAYS,
  type KeyDescription,
} from '../src/signing/kms-keys.js';
import { kmsLifecycle } from '../src/aws/kms-lifecycle.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { publishSigner } from '../src/signing/publish.js';
import { addressOfPublicKey } from '../src/evm/secp256k1.js';
import { EVM_KEY_SPEC } from '../src/evm/signer.js';
import { createContext, type GlobalOptions } from './context.js';
import { printKmsCalls, withKmsTrail } from './kms-support.js';
import { printJson, printLine, style } from './ui/format.js';

export interface KeyRefOptions extends GlobalOptions {
  key?: string;
}

function keyRef(options: KeyRefOptions): string {
  const ref = options.key?.replace(/^kms:/, '');
  if (!ref)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--key is required',
      hint: '--key kms:alias/agent-audit (or a key id or ARN)',
    });
  return ref;
}

export async function runKeysDescribe(options: KeyRefOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const kms = await ctx.services.kms();
  const d = await describeKey(kms, keyRef(options));
  // The rotation history (ListKeyRotations) of a key KMS rotates: scheduled and on-demand.
  const rotations = d.rotation.supported ? await kmsLifecycle(kms).listKeyRotations(d.keyId) : [];
  printKmsCalls(ctx);
  if (ctx.out.json) {
    printJson({ ok: true, ...d, rotations });
    return 0;
  }
  const rows: [string, string][] = [
    ['key', d.keyArn],
    ['spec', d.spec],
    ['usage', d.usage],
    ['state', d.state],
    ['origin', d.origin === 'AWS_CLOUDHSM' ? `AWS_CLOUDHSM (custom key store ${d.customKeyStoreId})` : d.origin],
    [
      'multi-region',
      d.multiRegion
        ? `${d.multiRegion}${d.replicaRegions.length ? `, replicas in ${d.replicaRegions.join(', ')}` : ''}`
        : 'no',
    ],
    ['aliases', d.aliases.join(', ') || '-'],
    ['created', d.createdAt ? `${d.createdAt} (${d.ageDays} days ago)` : '-'],
    ['rotation', rotationLine(d.rotation)],
    ...(rotations.length
      ? ([['rotated', rotations.map((r) => `${r.rotatedAt.slice(0, 10)} (${r.type.toLowerCase()})`).join(', ')]] as [
          string,
          string,
        ][])
      : []),
  ];
  for (const [k, v] of rows) printLine(`  ${k.padEnd(13)} ${v}`);
  return 0;
}

function rotationLine(r: KeyDescription['rotation']): string {
  if (!r.supported) return `not in KMS: ${r.reason}`;
  if (!r.enabled) return 'KMS rotation off (agentkeys keys create turns it on for symmetric keys)';
  const next = r.nextRotation ? `, next ${r.nextRotation.slice(0, 10)}` : '';
  return `KMS rotates it${r.periodDays ? ` every ${r.periodDays} days` : ''}${next}`;
}

const DEFAULT_REPLICA_REGIONS = 'us-west-2,eu-west-1';

export interface ShouldRotateOptions extends KeyRefOptions {
  failIfDue?: boolean;
  intervalDays?: string;
  maxAgeDays?: string;
}

/** Exit 0 when the key should be rotated now (shell idiom: `if agentkeys keys should-rotate …; then`), 1 when not. */
export async function runKeysShouldRotate(options: ShouldRotateOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const policy = {
    intervalDays: parseWholeNumber(
      options.intervalDays ?? String(DEFAULT_ROTATION_POLICY.intervalDays),
      '--interval-days',
      { min: 1 },
    ),
    maxAgeDays: parseWholeNumber(options.maxAgeDays ?? String(DEFAULT_ROTATION_POLICY.maxAgeDays), '--max-age-days', {
      min: 1,
    }),
  };
  if (policy.maxAgeDays < policy.intervalDays)
    throw new UsageError({ code: 'FLAG_INVALID', message: '--interval-days must not exceed --max-age-days' });
  const advice = adviseRotation(await describeKey(await ctx.services.kms(), keyRef(options)), policy);
  if (ctx.out.json) printJson({ ok: true, ...advice, policy });
  else
    printLine(`${advice.shouldRotate ? style.warn('rotate:') : style.ok('ok:')} ${advice.keyArn} is ${advice.reason}`);
  // --fail-if-due (a watch's timer, which alerts on failure): 0 not due, 1 due.
  if (options.failIfDue) return advice.shouldRotate ? 1 : 0;
  return advice.shouldRotate ? 0 : 1;
}

export interface KeysCreateKmsOptions extends GlobalOptions {
  spec?: string;
  alias?: string;
  multiRegion?: boolean;
  customKeyStore?: string;
  description?: string;
  signers?: string;
  rotationPeriodDays?: string;
  /** The signer kid events carry (AUDIT_SIGNER_KID); default the key ARN, which the entry records anyway. */
  kid?: string;
}

export async function runKeysCreateKms(options: KeysCreateKmsOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  if (!options.spec)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--spec is required (or --local for a key on this machine)',
      hint: '--spec ECC_NIST_P256 --alias alias/agent-audit',
    });
  const alias =
    options.alias === undefined
      ? undefined
      : options.alias.startsWith('alias/')
        ? options.alias
        : `alias/${options.alias}`;
  const { meta, created } = await withKmsTrail(ctx, async () =>
    createOrAdoptKey(await ctx.services.kms(), {
      spec: options.spec!,
      ...(alias ? { alias } : {}),
      ...(options.multiRegion ? { multiRegion: true } : {}),
      ...(options.customKeyStore ? { customKeyStoreId: options.customKeyStore } : {}),
      ...(options.description ? { description: options.description } : {}),
      ...(options.rotationPeriodDays ? { rotationPeriodDays: rotationPeriod(options.rotationPeriodDays) } : {}),
    }),
  );
  const rotates = !nativeRotationRefusal(meta) && !options.customKeyStore;
  let published: string | undefined;
  let address: string | undefined;
  if (meta.KeyUsage === 'SIGN_VERIFY' || meta.KeyUsage === 'GENERATE_VERIFY_MAC') {
    // Publish at once, so events signed with this key verify offline from the first one.
    const signer = await ctx.services.openKmsSigner(meta.Arn!, options.kid ? { kid: options.kid } : {});
    const signersPath = options.signers ?? ctx.config.signersPath;
    if (await publishSigner(signersPath, signer, { keyArn: signer.keyArn })) published = signersPath;
    if (meta.KeySpec === EVM_KEY_SPEC) address = addressOfPublicKey(await signer.loadPublicKey(), signer.source);
  }
  printKmsCalls(ctx);
  if (ctx.out.json)
    printJson({
      ok: true,
      created,
      keyArn: meta.Arn,
      spec: meta.KeySpec,
      usage: meta.KeyUsage,
      alias: alias ?? null,
      signers: published ?? null,
      kid: options.kid ?? meta.Arn,
      ...(address ? { address } : {}),
      ...(rotates ? { rotationPeriodDays: rotationDays(options) } : {}),
    });
  else {
    printLine(
      `${style.ok('✔')} ${created ? 'created' : 'already exists:'} ${meta.KeySpec} ` +
        `key ${style.bold(meta.Arn!)}${alias ? ` as ${alias}` : ''}`,
    );
    if (published) printLine(`  public key added to ${published}`);
    if (address) printLine(`  EVM address ${style.bold(address)}`);
    if (rotates) printLine(`  KMS rotates it every ${rotationDays(options)} days (old ciphertext still decrypts)`);
  }
  return 0;
}

const rotationPeriod = (v: string) => parseWholeNumber(v, '--rotation-period-days', ROTATION_PERIOD_DAYS);
const rotationDays = (o: KeysCreateKmsOptions) =>
  o.rotationPeriodDays ? rotationPeriod(o.rotationPeriodDays) : ROTATION_PERIOD_DAYS.default;

export interface ReplicateOptions extends KeyRefOptions {
  regions?: string;
}

export async function runKeysReplicate(options: ReplicateOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  // Seed 001's replicaRegions default.
  const regions = (options.regions ?? DEFAULT_REPLICA_REGIONS)
    .split(',')
    .map((r) => r.trim())
    .filter(Boolean);
  if (regions.length === 0)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--regions is empty',
      hint: '--regions us-west-2,eu-west-1',
    });
  const results = await withKmsTrail(ctx, async () => replicateKey(await ctx.services.kms(), keyRef(options), regions));
  printKmsCalls(ctx);
  if (ctx.out.json) printJson({ ok: true, replicas: results });
  else
    for (const r of results)
      printLine(`${r.action === 'created' ? style.ok('✔ created') : style.dim('= exists ')} ${r.region} ${r.keyArn}`);
  return 0;
}
