import type { SigningAlg } from './algorithms.js';
import { readSignerRegistryIfExists, upsertSigner, writeSignerRegistry, type SignerEntry } from './registry.js';

/** What a signer must offer to be published: a KMS signer, or a local key signer. */
export interface PublishableSigner {
  readonly kid: string;
  readonly alg: SigningAlg;
  publicKeyPem(): Promise<string> | string;
}

/**
 * The registry entry for a signer: KMS HMAC keys have no public key and verify through KMS;
 * every other key is published as SPKI PEM. `keyArn` records where a KMS key lives.
 */
export async function signerEntry(signer: PublishableSigner, extra: Partial<SignerEntry> = {}): Promise<SignerEntry> {
  const material =
    signer.alg === 'hmac-sha256' ? { verifyVia: 'kms' as const } : { publicKey: await signer.publicKeyPem() };
  return { signerId: signer.kid, algorithm: signer.alg, ...material, ...extra };
}

/** Adds the signer to signers.json unless it is there already; true when the file was written. */
export async function publishSigner(
  signersPath: string,
  signer: PublishableSigner,
  extra: Partial<SignerEntry> = {},
): Promise<boolean> {
  const registry = await readSignerRegistryIfExists(signersPath);
  if (registry.signers.some((s) => s.signerId === signer.kid)) return false;
  const entry = await signerEntry(signer, { validFrom: new Date().toISOString(), ...extra });
  await writeSignerRegistry(signersPath, upsertSigner(registry, entry));
  return true;
}
