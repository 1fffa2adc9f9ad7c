import { createHash, createPublicKey } from 'node:crypto';
import type { SignerEntry, SignerRegistry } from './registry.js';
import { AgentkeysError } from '../errors.js';
import type { KmsApi } from '../aws/kms.js';
import { algorithmOfKeySpec } from './kms-signer.js';

export interface RebuildChange {
  signerId: string;
  action: 'add' | 'update' | 'keep';
  detail: string;
}

export interface RebuildResult {
  registry: SignerRegistry;
  changes: RebuildChange[];
  /** Kids that could not be resolved: deleted, inaccessible, or local keys missing from the registry. */
  unresolved: { signerId: string; reason: string }[];
}

const KMS_REF = /^(arn:aws[a-z-]*:kms:|alias\/|mrk-|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$)/;

/**
 * Rebuilds signers.json from the signer_kids a chain actually uses: every KMS kid gets its public
 * key (GetPublicKey) and the algorithm of its KeySpec; HMAC keys are recorded as verify-via-KMS
 * without key material. Existing entries keep their validity windows and descriptions, and no
 * historical signer is ever dropped. A key whose public key changed under the same kid is an error.
 */
export async function rebuildSigners(
  kms: KmsApi,
  kids: Iterable<string>,
  existing: SignerRegistry,
): Promise<RebuildResult> {
  const byId = new Map(existing.signers.map((s) => [s.signerId, { ...s }]));
  const changes: RebuildChange[] = [];
  const unresolved: RebuildResult['unresolved'] = [];
  for (const kid of [...new Set(kids)].sort()) {
    const prior = byId.get(kid);
    if (!KMS_REF.test(kid)) {
      if (prior) changes.push({ signerId: kid, action: 'keep', detail: 'local key, already registered' });
      else
        unresolved.push({ signerId: kid, reason: 'not a KMS key and not in the registry: add its public key by hand' });
      continue;
    }
    let fresh: SignerEntry;
    try {
      fresh = await describeSigner(kms, kid);
    } catch (err) {
      if (!(err instanceof AgentkeysError)) throw err;
      if (['AWS_UNREACHABLE', 'AWS_CREDENTIALS_MISSING', 'AWS_CREDENTIALS_INVALID', 'AWS_THROTTLED'].includes(err.code))
        throw err;
      unresolved.push({ signerId: kid, reason: `${err.code}: ${err.message}` });
      if (prior) changes.push({ signerId: kid, action: 'keep', detail: 'kept as it was: KMS could not confirm it' });
      continue;
    }
    changes.push(merge(byId, prior, fresh));
  }
  for (const id of byId.keys()) {
    if (!changes.some((c) => c.signerId === id))
      changes.push({ signerId: id, action: 'keep', detail: 'historical signer, not in this log' });
  }
  return { registry: { signers: [...byId.values()] }, changes, unresolved };
}

function merge(byId: Map<string, SignerEntry>, prior: SignerEntry | undefined, fresh: SignerEntry): RebuildChange {
  if (!prior) {
    byId.set(fresh.signerId, fresh);
    return {
      signerId: fresh.signerId,
      action: 'add',
      detail: `${fresh.algorithm}${fresh.publicKey ? ` ${fingerprint(fresh.publicKey)}` : ', verify via KMS'}`,
    };
  }
  if (prior.publicKey && fresh.publicKey && prior.publicKey.trim() !== fresh.publicKey.trim()) {
    throw new AgentkeysError({
      code: 'REGISTRY_KEY_CONFLICT',
      message: `signer ${fresh.signerId}: KMS returns a different public key than the registry holds`,
      hint: 'a kid must never change keys; if it is an alias, it has moved: register the old key under its ARN',
    });
  }
  const merged: SignerEntry = {
    ...prior,
    algorithm: fresh.algorithm,
    ...(fresh.publicKey ? { publicKey: fresh.publicKey } : {}),
    ...(fresh.keyArn ? { keyArn: fresh.keyArn } : {}),
    ...(fresh.verifyVia ? { verifyVia: fresh.verifyVia } : {}),
  };
  const changed = JSON.stringify(merged) !== JSON.stringify(prior);
  byId.set(fresh.signerId, merged);
  return {
    signerId: fresh.signerId,
    action: changed ? 'update' : 'keep',
    detail: changed ? 'filled in from KMS' : 'unchanged',
  };
}

async function describeSigner(kms: KmsApi, kid: string): Promise<SignerEntry> {
  const meta = await kms.describeKey(kid);
  if (meta.KeyState === 'PendingDeletion') {
    throw new AgentkeysError({
      code: 'KMS_KEY_INVALID_STATE',
      message: `${meta.Arn} is pending deletion (on ${meta.DeletionDate?.toISOString()})`,
      hint: 'cancel the deletion to keep its events verifiable: aws kms cancel-key-deletion',
    });
  }
  const algorithm = algorithmOfKeySpec(meta.KeySpec, kid);
  const entry: SignerEntry = { signerId: kid, algorithm, keyArn: meta.Arn! };
  if (kid.startsWith('alias/'))
    entry.description = `kid is an alias; it pointed at ${meta.Arn} when this registry was rebuilt`;
  if (algorithm === 'hmac-sha256') return { ...entry, verifyVia: 'kms' };
  const der = Buffer.from(await kms.getPublicKey(meta.Arn!));
  return {
    ...entry,
    publicKey: createPublicKey({ key: der, format: 'der', type: 'spki' })
      .export({ type: 'spki', format: 'pem' })
      .toString(),
  };
}

/** SHA-256 of the SPKI DER, as hex: the fingerprint events and messages name keys by. */
export function fingerprint(publicKeyPem: string): string {
  const der = createPublicKey(publicKeyPem).export({ type: 'spki', format: 'der' });
  return `sha256:${createHash('sha256').update(der).digest('hex')}`;
}
