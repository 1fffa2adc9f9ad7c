import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { adviseRotation, DEFAULT_ROTATION_POLICY, describeKey } from '../../signing/kms-keys.js';
import { isAgentkeysError } from '../../errors.js';
import { KMS_ASYMMETRIC_USD_PER_10K } from '../../audit/cost.js';
import { readSignerRegistryIfExists } from '../../signing/registry.js';
import { checkpointPathFor } from '../../store/checkpoint-file.js';
import { fileExists } from '../../sys/fs.js';
import { redactUrl } from '../../sys/redact.js';
import { fail, measured, ok, setupFix, skip, stackOf, warn, type DoctorCheck } from '../check.js';
import { enableKeyFix } from './aws.js';

export const auditKeyCheck: DoctorCheck = {
  id: 'kms.audit-key',
  group: 'kms',
  title: 'The audit-signing key: enabled, SIGN_VERIFY (or HMAC), published, within its rotation policy',
  needs: ['aws.account'],
  async run(ctx) {
    const setup = stackOf(ctx);
    const alias = setup.stack.kmsAuditAlias;
    // One describe (state, usage, age, rotation) serves every question below.
    const key = await describeKey(setup.kms, alias, ctx.now).catch((err: unknown) => {
      if (isAgentkeysError(err) && err.code === 'KMS_KEY_NOT_FOUND') return undefined;
      throw err;
    });
    if (!key) return fail(`${alias} does not exist`, setupFix(ctx, 'kms-audit-key'));
    if (key.state === 'PendingDeletion')
      return fail(
        `${alias} → ${key.keyArn} is scheduled for deletion`,
        `aws kms cancel-key-deletion --key-id ${key.keyArn} && ${enableKeyFix(key.keyArn)}`,
      );
    if (key.state !== 'Enabled') return fail(`${alias} → ${key.keyArn} is ${key.state}`, enableKeyFix(key.keyArn));
    // An HMAC key is a signing key too (GenerateMac); its chains verify through KMS (VerifyMac).
    if (key.usage !== 'SIGN_VERIFY' && key.usage !== 'GENERATE_VERIFY_MAC')
      return fail(`${alias} names a ${key.usage} key`, 'point the alias at a signing key: agentkeys rotate-key');
    const registry = await readSignerRegistryIfExists(setup.signersPath);
    if (!registry.signers.some((s) => s.keyArn === key.keyArn || s.signerId === key.keyArn))
      return fail(`${key.keyArn} is not published in ${setup.signersPath}`, setupFix(ctx, 'kms-audit-key'));
    const advice = adviseRotation(key, ctx.rotationPolicy ?? DEFAULT_ROTATION_POLICY);
    const detail = `${alias} → ${key.keyArn} (${key.spec}), ${advice.reason}`;
    const age = [{ name: 'agentkeys_audit_key_age_seconds', labels: { alias }, value: advice.ageDays * 86_400 }];
    if (advice.shouldRotate) return measured(warn(detail, `agentkeys rotate-key --alias ${alias}`), age);
    return measured(ok(detail), age);
  },
};

// KMS's default request quota for asymmetric ECC Sign, shared with Verify (requests per second).
const ECC_SIGN_QUOTA_PER_SECOND = 1000;
const SECONDS_PER_MONTH = 30 * 86_400;

/**
 * Seed 000's cost question from the chain itself: the measured signing rate (events, and KMS
 * signatures: one per event in per-row mode, one per checkpoint in checkpoint mode), projected to
 * a month of requests and dollars, and the headroom left under the account's Sign quota.
 */
export const kmsCostCheck: DoctorCheck = {
  id: 'kms.cost',
  group: 'kms',
  title: "Projected KMS cost and quota headroom at the chain's signing rate",
  async run(ctx) {
    const log = ctx.config.log;
    if (!log)
      return skip('no audit log to measure the signing rate from: pass --log with the chain, or set DATABASE_URL');
    // A Postgres log's rate would need the store; the JSON Lines copy (audit export) measures the same.
    if (!(await fileExists(log)))
      return skip(`${redactUrl(log)} is not a file: measure a JSON Lines log (agentkeys audit export)`);
    const rate = await signingRate(log);
    if (!rate) return skip(`${redactUrl(log)} has fewer than two events to measure a rate from`);
    const perSecond = rate.signatures / rate.seconds;
    const monthly = perSecond * SECONDS_PER_MONTH;
    const usd = (monthly / 10_000) * KMS_ASYMMETRIC_USD_PER_10K;
    const share = perSecond / ECC_SIGN_QUOTA_PER_SECOND;
    const numbers = [
      { name: 'agentkeys_audit_log_events', labels: { log: redactUrl(log) }, value: rate.events },
      { name: 'agentkeys_kms_sign_requests_per_second', labels: { log: redactUrl(log) }, value: perSecond },
    ];
    const detail =
      `${rate.events} events over ${Math.round(rate.seconds)} s (${rate.mode} mode): ` +
      `${Math.round(monthly).toLocaleString('en-US')} Sign requests/month ≈ $${usd.toFixed(2)}, ` +
      `${(share * 100).toFixed(share < 0.01 ? 3 : 1)}% of the ${ECC_SIGN_QUOTA_PER_SECOND}/s Sign quota`;
    if (share > 0.5)
      return measured(
        warn(detail, 'switch to checkpoint mode: agentkeys sign --checkpoint-every 1000 (one Sign per checkpoint)'),
        numbers,
      );
    return measured(ok(detail), numbers);
  },
};

interface Rate {
  events: number;
  signatures: number;
  seconds: number;
  mode: 'per-row' | 'checkpoint';
}

async function signingRate(log: string): Promise<Rate | undefined> {
  let events = 0;
  let signed = 0;
  let first: number | undefined;
  let last: number | undefined;
  for await (const line of createInterface({ input: createReadStream(log), crlfDelay: Infinity })) {
    if (!line.trim()) continue;
    const row = JSON.parse(line) as { created_at?: string; signature?: string };
    const t = Date.parse(row.created_at ?? '');
    if (Number.isFinite(t)) {
      first ??= t;
      last = t;
    }
    events++;
    if (row.signature) signed++;
  }
  if (events < 2 || first === undefined || last === undefined || last <= first) return undefined;
  const checkpoints = (await fileExists(checkpointPathFor(log))) ? await countLines(checkpointPathFor(log)) : 0;
  const mode = signed === 0 && checkpoints > 0 ? 'checkpoint' : 'per-row';
  return { events, signatures: signed + checkpoints, seconds: (last - first) / 1000, mode };
}

async function countLines(file: string): Promise<number> {
  let n = 0;
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Infinity })) if (line) n++;
  return n;
}
