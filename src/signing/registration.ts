// A writer never appends an event that verify-audit, reading the same registry, would reject
// (issue 24): the kid it writes must name its own key there. An absent kid is published into a
// registry file (as `keys create` does); a kid bound to another key is refused, naming the kid the
// current key has, if any. A registry given inline or by URL cannot be written: then an absent kid
// is refused with what to publish.
import { createPublicKey } from 'node:crypto';
import { AgentkeysError, UsageError } from '../errors.js';
import { publishSigner, type PublishableSigner } from './publish.js';
import {
  parseSignerRegistryLenient,
  readRegistryText,
  registrySourceName,
  type RegistryInput,
  type SignerEntry,
} from './registry.js';

export type RegistrableSigner = PublishableSigner & {
  publicKeyDer?(): Promise<Buffer | undefined>;
  /** A KMS signer whose public key came from the cache fetches it from KMS again. */
  refreshPublicKey?(): Promise<void>;
  readonly keyArn?: string;
};

/** 'listed' when the registry already binds the kid to this key; 'published' when it was added. */
export async function ensureRegistered(
  signer: RegistrableSigner,
  registry: RegistryInput,
): Promise<'listed' | 'published'> {
  // A local HMAC secret verifies with --hmac-key, not through the registry.
  if (signer.alg === 'hmac-sha256' && !signer.keyArn) return 'listed';
  const entries = await registryEntries(registry);
  const source = registrySourceName(registry);
  if (entries.rejected[signer.kid])
    throw new UsageError({
      code: 'SIGNER_KID_MISMATCH',
      message: `${source} cannot verify kid ${signer.kid}: ${entries.rejected[signer.kid]}; nothing was signed`,
      hint: `fix the entry for ${signer.kid} in ${source}`,
    });
  // The verifier finds a KMS key by kid, or by its ARN when that is the kid written.
  const entry =
    entries.signers.find((s) => s.signerId === signer.kid) ??
    entries.signers.find((s) => s.keyArn !== undefined && s.keyArn === signer.kid);
  let own = signer.alg === 'hmac-sha256' ? undefined : await ownDer(signer);
  if (entry && entry.algorithm === signer.alg && (own === undefined || sameKey(entry, own))) return 'listed';
  // Anything but a match is said (or published) with the key as KMS gives it, not as a cache file does.
  if (own !== undefined && signer.refreshPublicKey) {
    await signer.refreshPublicKey();
    own = await ownDer(signer);
  }
  if (entry) {
    if (entry.algorithm === signer.alg && (own === undefined || sameKey(entry, own))) return 'listed';
    const owner = own && entries.signers.find((s) => s.signerId !== signer.kid && sameKey(s, own));
    throw new UsageError({
      code: 'SIGNER_KID_MISMATCH',
      message:
        `${source} binds kid ${signer.kid} to another key than the one signing` +
        (owner ? `; this key is listed as ${owner.signerId}` : ', and lists this key under no kid') +
        ': nothing was signed',
      hint: owner
        ? `sign as ${owner.signerId} (--signer-kid ${owner.signerId}, or AUDIT_SIGNER_KID)`
        : 'a rotated key takes a new kid: agentkeys rotate-key --alias … --kid NEW, or --signer-kid NEW',
    });
  }
  if (typeof registry !== 'string')
    throw new UsageError({
      code: 'SIGNER_NOT_REGISTERED',
      message:
        `kid ${signer.kid} is not in the registry from ${source}, which agentkeys cannot write: ` +
        'nothing was signed',
      hint: 'publish the key where the verifiers read it, or name a registry file with --signers to publish into',
    });
  await publishSigner(registry, signer, signer.keyArn ? { keyArn: signer.keyArn } : {});
  return 'published';
}

async function registryEntries(
  registry: RegistryInput,
): Promise<{ signers: SignerEntry[]; rejected: Record<string, string> }> {
  let text: string;
  try {
    text = await readRegistryText(registry);
  } catch (err) {
    if (err instanceof AgentkeysError && err.code === 'REGISTRY_NOT_FOUND') return { signers: [], rejected: {} };
    throw err;
  }
  const parsed = parseSignerRegistryLenient(text, registrySourceName(registry));
  return { signers: parsed.registry.signers, rejected: parsed.rejected };
}

async function ownDer(signer: RegistrableSigner): Promise<Buffer | undefined> {
  const der = await signer.publicKeyDer?.();
  if (der && der.length > 0) return der;
  const pem = await signer.publicKeyPem();
  return createPublicKey(pem).export({ type: 'spki', format: 'der' });
}

function sameKey(entry: SignerEntry, der: Buffer): boolean {
  if (!entry.publicKey) return false;
  try {
    return createPublicKey(entry.publicKey).export({ type: 'spki', format: 'der' }).equals(der);
  } catch {
    return false;
  }
}
