// The KMS key lifecycle: list, disable/enable, schedule and cancel deletion (refused while a
// verifier or encrypted data still needs the key through KMS, unless --force; always confirmed),
// and on-demand rotation. Seed 001's key manager, and the verbs `aws kms` users expect.
import { describeKey, nativeRotationRefusal, type KeyDescription } from '../src/signing/kms-keys.js';
import { kmsLifecycle } from '../src/aws/kms-lifecycle.js';
import type { KeyMetadata } from '../src/aws/kms.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { readSignerRegistryIfExists } from '../src/signing/registry.js';
import { clearKeyCache } from '../src/signing/kms-key-cache.js';
import { printRetired, retireWithTrail } from './kms-support.js';
import { createContext, type CommandContext, type GlobalOptions } from './context.js';
import { printKmsCalls, withKmsTrail } from './kms-support.js';
import { parseWholeNumber } from './options.js';
import { printJson, printLine, style } from './ui/format.js';
import { confirm } from './ui/prompt.js';

export interface LifecycleOptions extends GlobalOptions {
  key?: string;
  days?: string;
  force?: boolean;
  yes?: boolean;
  signers?: string;
}

function keyOf(options: LifecycleOptions): string {
  const ref = options.key?.replace(/^kms:/, '');
  if (!ref)
    throw new UsageError({ code: 'FLAG_MISSING', message: '--key is required', hint: '--key kms:alias/agent-audit' });
  return ref;
}

/** Customer keys of the account and region, with aliases, spec, usage, state, age and rotation. */
export async function runKeysList(options: GlobalOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const kms = await ctx.services.kms();
  const keys: KeyDescription[] = [];
  for (const id of await kmsLifecycle(kms).listKeyIds()) {
    const meta = await kms.describeKey(id);
    if (meta.KeyManager === 'AWS') continue; // AWS-managed keys (aws/s3, …) are not the operator's
    keys.push(await describeKey(kms, meta.Arn!));
  }
  printKmsCalls(ctx);
  if (ctx.out.json) {
    printJson({ ok: true, keys });
    return 0;
  }
  if (keys.length === 0) printLine(style.dim('no customer managed keys in this region'));
  for (const k of keys) {
    const rotation = k.rotation.supported ? (k.rotation.enabled ? 'KMS' : 'off') : 'rotate-key';
    printLine(
      `${k.keyId}  ${(k.aliases.join(',') || '-').padEnd(28)} ${k.spec.padEnd(22)} ${k.usage.padEnd(20)} ` +
        `${k.state.padEnd(16)} ${k.ageDays ?? '?'}d  rotation ${rotation}`,
    );
  }
  return 0;
}

export async function runKeysDisable(options: LifecycleOptions): Promise<ExitCode> {
  return simpleVerb(options, 'disabled', (ctx, arn) =>
    ctx.services.kms().then((kms) => kmsLifecycle(kms).disableKey(arn)),
  );
}

export async function runKeysEnable(options: LifecycleOptions): Promise<ExitCode> {
  return simpleVerb(options, 'enabled', (ctx, arn) =>
    ctx.services.kms().then((kms) => kmsLifecycle(kms).enableKey(arn)),
  );
}

export async function runKeysCancelDeletion(options: LifecycleOptions): Promise<ExitCode> {
  return simpleVerb(
    options,
    'no longer scheduled for deletion (it is Disabled: keys enable --key … to use it)',
    (ctx, arn) => ctx.services.kms().then((kms) => kmsLifecycle(kms).cancelKeyDeletion(arn)),
  );
}

/** RotateKeyOnDemand: new key material now, for a key KMS rotates (symmetric, in AWS_KMS). */
export async function runKeysRotateNow(options: LifecycleOptions): Promise<ExitCode> {
  return simpleVerb(options, 'rotated (new key material; old ciphertexts still decrypt)', async (ctx, arn, meta) => {
    const refusal = nativeRotationRefusal(meta);
    if (refusal)
      throw new UsageError({
        code: 'KMS_ROTATION_UNSUPPORTED',
        message: `KMS cannot rotate ${meta.Arn} on demand: ${refusal}`,
        hint: 'agentkeys rotate-key --alias … (a new key, with a hand-over in the chain)',
      });
    await kmsLifecycle(await ctx.services.kms()).rotateKeyOnDemand(arn);
  });
}

async function simpleVerb(
  options: LifecycleOptions,
  done: string,
  act: (ctx: CommandContext, arn: string, meta: KeyMetadata) => Promise<void>,
): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const arn = await withKmsTrail(ctx, async () => {
    const meta = await (await ctx.services.kms()).describeKey(keyOf(options));
    // By key ID: AWS takes an ID or an ARN, and moto 5.2.1's lifecycle calls resolve IDs only.
    await act(ctx, meta.KeyId!, meta);
    await clearKeyCache(ctx.config.dir); // a cached Enabled state would only fail later, at Sign
    return meta.Arn!;
  });
  printKmsCalls(ctx);
  if (ctx.out.json) printJson({ ok: true, key: arn });
  else printLine(`${style.ok('✔')} ${arn} ${done}`);
  return 0;
}

/**
 * ScheduleKeyDeletion, refused unless --force while something still needs the key through KMS:
 * data encrypted under it (an encryption key can never be told unused), HMAC chains (verified
 * only by KMS), or a signing key whose public key the registry does not hold. Always confirmed.
 */
export async function runKeysScheduleDeletion(options: LifecycleOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const days = parseWholeNumber(options.days ?? '30', '--days', { min: 7, max: 30 });
  const kms = await ctx.services.kms();
  const meta = await kms.describeKey(keyOf(options));
  const need = await stillNeeded(ctx, meta);
  if (need && !options.force)
    throw new UsageError({
      code: 'KMS_KEY_STILL_NEEDED',
      message: `${meta.Arn} is still needed through KMS: ${need}; nothing was scheduled`,
      hint: 'keys disable --key … stops its use reversibly; --force schedules the deletion anyway',
    });
  await confirm(ctx, `schedule ${meta.Arn} for deletion in ${days} days?`, '--yes', options.yes === true);
  const date = await withKmsTrail(ctx, () => kmsLifecycle(kms).scheduleKeyDeletion(meta.KeyId!, days));
  await clearKeyCache(ctx.config.dir);
  printKmsCalls(ctx);
  if (ctx.out.json) printJson({ ok: true, key: meta.Arn, deletionDate: date ?? null, forced: need !== undefined });
  else
    printLine(
      `${style.ok('✔')} ${meta.Arn} is scheduled for deletion${date ? ` on ${date.slice(0, 10)}` : ''}; ` +
        `until then: agentkeys keys cancel-deletion --key ${meta.Arn}`,
    );
  return 0;
}

async function stillNeeded(ctx: CommandContext, meta: KeyMetadata): Promise<string | undefined> {
  const usage = meta.KeyUsage ?? (meta.KeySpec === 'SYMMETRIC_DEFAULT' ? 'ENCRYPT_DECRYPT' : undefined);
  if (usage === 'ENCRYPT_DECRYPT') return 'data encrypted under it could never be decrypted again';
  const registry = await readSignerRegistryIfExists(ctx.config.signersPath);
  const entries = registry.signers.filter((s) => s.keyArn === meta.Arn || s.signerId === meta.Arn);
  if (usage === 'GENERATE_VERIFY_MAC') return 'an HMAC key verifies only through KMS: every chain it signed needs it';
  if (usage === 'SIGN_VERIFY' && !entries.some((s) => s.publicKey))
    return (
      `${ctx.config.signersPath} does not hold its public key, so its events verify only through KMS ` +
      '(agentkeys signers rebuild --log …)'
    );
  return undefined;
}

/** Disables a rotated-out signing key once its events verify from the registry alone. */
export async function runKeysRetire(options: LifecycleOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const plan = await retireWithTrail(ctx, keyOf(options), options);
  printRetired(ctx, plan, options.signers ?? ctx.config.signersPath);
  return 0;
}
