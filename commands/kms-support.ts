import { appendSigned } from './audit-writer.js';
import { clearKeyCache } from '../src/signing/kms-key-cache.js';
import type { AgentkeysConfig } from '../src/config/load.js';
import { AgentkeysError } from '../src/errors.js';
import { resolveSigner } from '../src/signing/resolve.js';
import type { AuditSigner } from '../src/signing/signer.js';
import { openStore } from '../src/store/store.js';
import { writerStoreOptions, type CommandContext } from './context.js';
import { printJson, printLine, style } from './ui/format.js';
import { confirm } from './ui/prompt.js';
import { retireKey, type RetirePlan } from '../src/signing/retire.js';
import { readSignerRegistryIfExists } from '../src/signing/registry.js';
import { messageOf } from '../src/sys/operator-file.js';

/**
 * The configured audit signer, with KMS signers opened through this command's services, their
 * metadata and public key reused from .agentkeys/cache for AGENTKEYS_KEY_CACHE_TTL_MS (5 min).
 */
export function openSigner(ctx: CommandContext, config: AgentkeysConfig = ctx.config): Promise<AuditSigner> {
  return resolveSigner(config, {
    openKmsSigner: (ref, kid) => ctx.services.openKmsSigner(ref, { ...(kid ? { kid } : {}), cached: true }),
  });
}

/**
 * Runs a command body and then records every KMS operation it made in the --audit-log chain,
 * signed by the configured audit signer (whose own calls are not recorded, to avoid recursion).
 * The trail is written whether the body succeeded or failed: failed operations are evidence too.
 */
export async function withKmsTrail<T>(ctx: CommandContext, body: () => Promise<T>): Promise<T> {
  const auditLog = ctx.config.auditLog;
  // Fail before doing anything if the trail could not be signed afterwards.
  const trailSigner = auditLog
    ? await openSigner(ctx, ctx.config.auditKey ? { ...ctx.config, keyRef: ctx.config.auditKey } : ctx.config)
    : undefined;
  let result: T;
  try {
    result = await body();
  } finally {
    if (auditLog && trailSigner) await flushTrail(ctx, auditLog, trailSigner);
  }
  return result;
}

async function flushTrail(ctx: CommandContext, auditLog: string, signer: AuditSigner): Promise<void> {
  if (ctx.services.trail.records.length === 0) return;
  // Who did it, as CloudTrail's userIdentity: asked once per process; without an answer, null.
  const caller = await ctx.services.callerIdentity().then(
    (id) => id.arn,
    () => null,
  );
  const events = ctx.services.trail.drainEvents('agentkeys', caller);
  const store = openStore(auditLog, writerStoreOptions(ctx));
  try {
    await appendSigned(ctx, store, signer, events);
    if (ctx.out.debug)
      process.stderr.write(style.dim(`  recorded ${events.length} KMS operation event(s) in ${auditLog}\n`));
  } catch (err) {
    throw new AgentkeysError({
      code: 'KMS_TRAIL_WRITE_FAILED',
      message: `the KMS operations were done but could not be recorded in ${auditLog}: ${messageOf(err)}`,
      hint: 'fix the audit log and record the operation by hand; see --debug',
      cause: err,
    });
  } finally {
    await store.close();
  }
}

export function printKmsCalls(ctx: CommandContext): void {
  if (!ctx.out.debug || ctx.services.kmsCalls.size === 0) return;
  const calls = [...ctx.services.kmsCalls.entries()].map(([op, n]) => `${op}×${n}`).join(' ');
  process.stderr.write(style.dim(`  KMS calls: ${calls}\n`));
}

/** keys retire and rotate-key --finish: the plan checked, the question asked, the key disabled. */
export async function retireWithTrail(
  ctx: CommandContext,
  keyRef: string,
  options: { signers?: string; force?: boolean; yes?: boolean },
): Promise<RetirePlan> {
  const kms = await ctx.services.kms();
  const plan = await withKmsTrail(ctx, () =>
    retireKey(
      kms,
      keyRef,
      { path: options.signers ?? ctx.config.signersPath, read: readSignerRegistryIfExists },
      {
        now: new Date(),
        force: options.force === true,
        confirm: (q) => confirm(ctx, q, '--yes', options.yes === true),
        // Imported here, not above: verify-audit loads this module and must load no AWS SDK.
        disableKey: async (keyId) => (await import('../src/aws/kms-lifecycle.js')).kmsLifecycle(kms).disableKey(keyId),
        afterChange: () => clearKeyCache(ctx.config.dir),
      },
    ),
  );
  printKmsCalls(ctx);
  return plan;
}

export function printRetired(ctx: CommandContext, plan: RetirePlan, registry: string): void {
  if (ctx.out.json) {
    printJson({ ok: true, key: plan.arn, kids: plan.kids, disabled: true, alreadyDisabled: plan.alreadyDisabled });
    return;
  }
  const how = plan.alreadyDisabled ? 'was already disabled' : 'is disabled';
  printLine(`${style.ok('✔')} ${plan.arn} ${how}: nothing can sign with it`);
  printLine(style.dim(`  its events (kid ${plan.kids.join(', ')}) verify from ${registry}, without KMS`));
}
