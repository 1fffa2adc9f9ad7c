import { signerEntry } from './publish.js';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type { KeySpec, KeyUsageType, KmsApi } from '../aws/kms.js';
import { AgentkeysError, UsageError } from '../errors.js';
import type { NewEvent } from '../audit/record.js';
import { readSignerRegistryIfExists, upsertSigner, writeSignerRegistry, type SignerEntry } from './registry.js';
import type { AuditSigner } from './signer.js';
import { writeFileAtomic } from '../sys/fs.js';
import { KmsSigner } from './kms-signer.js';
import { fingerprint } from './signers-rebuild.js';
import { errnoCode, messageOf } from '../sys/operator-file.js';

/** What a rotation has done so far, saved after every step so an interrupted run can finish. */
export interface RotationReceipt {
  alias: string;
  oldKeyArn: string;
  newKeyArn?: string;
  aliasMoved?: boolean;
  signersUpdated?: boolean;
  eventAppended?: boolean;
  /** The kids events carry: the old key's (from the registry, else its ARN) and the new key's. */
  oldKid?: string;
  newKid?: string;
  startedAt: string;
  completedAt?: string;
}

export interface RotateOptions {
  alias: string;
  spec?: string;
  signersPath?: string;
  overlapDays: number;
  /** Folder for receipts (.agentkeys/rotations). */
  stateDir: string;
  /** The new key's kid; default: the old kid's version bumped (auditor-signing-v1 → -v2), or its ARN. */
  kid?: string;
  /** Appends events to the audit chain (--log); undefined when no log was given. */
  appendEvents?: (signer: AuditSigner, events: NewEvent[]) => Promise<void>;
  now?: () => Date;
}

export interface RotateResult {
  receipt: RotationReceipt;
  resumed: boolean;
  done: string[];
}

/**
 * KMS cannot rotate asymmetric or HMAC keys itself, so a rotation is: create a key of the same
 * spec, tag it, move the alias, keep the old key enabled, publish the new public key with
 * validFrom now and give the old one validTo now + overlap, and (with a log) append a
 * signer.rotated event signed by the old key naming the new one. Re-running an interrupted
 * rotation finishes it and never creates a third key.
 */
export async function rotateKmsKey(kms: KmsApi, opts: RotateOptions): Promise<RotateResult> {
  const alias = normalizeAlias(opts.alias);
  const now = opts.now ?? (() => new Date());
  const receiptFile = receiptFileOf(opts.stateDir, alias);
  const current = await kms.describeKey(alias);
  let receipt = await readReceipt(receiptFile);
  const resumed = receipt !== undefined && !receipt.completedAt;
  if (!resumed) receipt = { alias, oldKeyArn: current.Arn!, startedAt: now().toISOString() };
  const r = receipt!;
  const save = () => writeFileAtomic(receiptFile, `${JSON.stringify(r, null, 2)}\n`);
  const done: string[] = [];

  if (!r.newKeyArn) {
    const old = current;
    const spec = (opts.spec ?? old.KeySpec) as KeySpec;
    if (!old.KeyUsage || !['SIGN_VERIFY', 'GENERATE_VERIFY_MAC'].includes(old.KeyUsage)) {
      throw new UsageError({
        code: 'ROTATE_UNSUPPORTED',
        message: `${alias} → ${old.Arn} is a ${old.KeyUsage} key`,
        hint: 'symmetric encryption keys rotate inside KMS: aws kms enable-key-rotation',
      });
    }
    await save(); // the intent is on disk before the key exists
    const created = await kms.createKey({
      KeySpec: spec,
      KeyUsage: old.KeyUsage as KeyUsageType,
      Description: `agentkeys rotation of ${alias} (previous ${old.Arn})`,
      Tags: [
        { TagKey: 'agentkeys:alias', TagValue: alias },
        { TagKey: 'agentkeys:rotated-from', TagValue: old.Arn! },
      ],
    });
    r.newKeyArn = created.Arn!;
    await save();
    done.push(`created ${spec} key ${created.Arn}`);
  }
  if (!r.aliasMoved) {
    await kms.updateAlias(alias, r.newKeyArn);
    r.aliasMoved = true;
    await save();
    done.push(`moved ${alias} → ${r.newKeyArn} (the old key stays enabled)`);
  }
  if (!r.oldKid || !r.newKid) {
    const kids = await rotationKids(opts.signersPath, r.oldKeyArn, r.newKeyArn!, opts.kid);
    r.oldKid = kids.oldKid;
    r.newKid = kids.newKid;
    await save();
  }
  const newSigner = await KmsSigner.open(kms, r.newKeyArn!, r.newKid === r.newKeyArn ? {} : { kid: r.newKid });
  const oldSigner = await KmsSigner.open(kms, r.oldKeyArn, r.oldKid === r.oldKeyArn ? {} : { kid: r.oldKid });
  if (!r.signersUpdated && opts.signersPath) {
    await publishRotation(opts.signersPath, oldSigner, newSigner, now(), opts.overlapDays);
    r.signersUpdated = true;
    await save();
    done.push(`signers.json: ${r.newKeyArn} valid from now, ${r.oldKeyArn} until +${opts.overlapDays} days`);
  }
  if (!r.eventAppended && opts.appendEvents) {
    const payload = {
      alias,
      old_key_arn: r.oldKeyArn,
      new_key_arn: r.newKeyArn,
      old_kid: r.oldKid,
      new_kid: r.newKid,
      new_key_fingerprint: newSigner.alg === 'hmac-sha256' ? null : fingerprint(await newSigner.publicKeyPem()),
      overlap_days: opts.overlapDays,
    };
    // Signed by the old key, so the hand-over verifies offline with the registry the auditor already trusts.
    await opts.appendEvents(oldSigner, [{ event_type: 'signer.rotated', actor_id: 'agentkeys', payload }]);
    r.eventAppended = true;
    await save();
    done.push('appended signer.rotated, signed by the old key');
  }
  r.completedAt = now().toISOString();
  await save();
  return { receipt: r, resumed, done };
}

/**
 * Under a fixed kid (AUDIT_SIGNER_KID=auditor-signing-v1, as production settings name it) the new key cannot take the
 * old kid, or events signed by the new key would carry a kid the registry binds to the old one:
 * it gets the next version of it. A kid that is the key's ARN stays so.
 */
async function rotationKids(
  signersPath: string | undefined,
  oldArn: string,
  newArn: string,
  asked: string | undefined,
): Promise<{ oldKid: string; newKid: string }> {
  const registry = signersPath ? await readSignerRegistryIfExists(signersPath) : { signers: [] };
  const oldKid = registry.signers.find((e) => e.keyArn === oldArn && e.signerId !== oldArn)?.signerId ?? oldArn;
  const newKid = asked ?? (oldKid === oldArn ? newArn : nextVersion(oldKid));
  if (registry.signers.some((e) => e.signerId === newKid && e.keyArn !== newArn))
    throw new UsageError({
      code: 'SIGNER_KID_MISMATCH',
      message: `the registry already binds kid ${newKid} to another key; the new key needs a kid of its own`,
      hint: 'name one: agentkeys rotate-key --alias … --kid NEW',
    });
  return { oldKid, newKid };
}

/** auditor-signing-v1 → auditor-signing-v2; a kid without a version gets -v2. */
function nextVersion(kid: string): string {
  const m = /^(.*?)(\d+)$/.exec(kid);
  return m && /[-_.v]$/.test(m[1]!) ? `${m[1]}${Number(m[2]) + 1}` : `${kid}-v2`;
}

async function publishRotation(
  signersPath: string,
  oldSigner: KmsSigner,
  newSigner: KmsSigner,
  now: Date,
  overlapDays: number,
): Promise<void> {
  let registry = await readSignerRegistryIfExists(signersPath);
  const entryFor = (s: KmsSigner): Promise<SignerEntry> => signerEntry(s, { keyArn: s.keyArn });
  const prior = registry.signers.find((e) => e.signerId === oldSigner.kid) ?? (await entryFor(oldSigner));
  registry = upsertSigner(registry, {
    ...prior,
    validTo: new Date(now.getTime() + overlapDays * 86_400_000).toISOString(),
  });
  const existingNew = registry.signers.find((e) => e.signerId === newSigner.kid);
  registry = upsertSigner(registry, {
    ...(existingNew ?? (await entryFor(newSigner))),
    validFrom: existingNew?.validFrom ?? now.toISOString(),
  });
  await writeSignerRegistry(signersPath, registry);
}

function normalizeAlias(alias: string): string {
  const a = alias.startsWith('alias/') ? alias : `alias/${alias}`;
  if (!/^alias\/[A-Za-z0-9/_-]{1,250}$/.test(a) || a.startsWith('alias/aws/')) {
    throw new UsageError({
      code: 'ALIAS_INVALID',
      message: `"${alias}" is not a usable KMS alias`,
      hint: 'alias/<name> with letters, digits, / _ -; alias/aws/ is reserved',
    });
  }
  return a;
}

function receiptFileOf(stateDir: string, alias: string): string {
  return path.join(stateDir, `${alias.replace(/[^A-Za-z0-9_-]/g, '_')}.json`);
}

/** The rotation of `alias` this machine completed: rotate-key --finish retires its old key. */
export async function completedRotation(stateDir: string, aliasName: string): Promise<RotationReceipt> {
  const alias = normalizeAlias(aliasName);
  const receipt = await readReceipt(receiptFileOf(stateDir, alias));
  if (!receipt?.completedAt)
    throw new UsageError({
      code: 'ROTATION_NOT_FOUND',
      message: receipt
        ? `the rotation of ${alias} has not completed; its old key cannot be retired yet`
        : `no rotation of ${alias} is recorded in ${stateDir}`,
      hint: receipt
        ? `finish it first: agentkeys rotate-key --alias ${alias}`
        : 'retire the old key by its ARN: agentkeys keys retire --key kms:arn:aws:kms:…',
    });
  return receipt;
}

async function readReceipt(file: string): Promise<RotationReceipt | undefined> {
  try {
    return JSON.parse(await fsp.readFile(file, 'utf8')) as RotationReceipt;
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new AgentkeysError({
      code: 'ROTATION_RECEIPT_UNREADABLE',
      message: `cannot read rotation receipt ${file}: ${messageOf(err)}`,
      hint: 'inspect or remove it; it records a rotation in progress',
      cause: err,
    });
  }
}
