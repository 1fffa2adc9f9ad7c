// The keys a writer trusts when it opens the checkpoints kept beside a log: the verifier registry
// (the same one verify-audit reads, so keys of earlier rotations count) and its own key, which
// is all a writer has when no registry exists yet.
import { createPublicKey } from 'node:crypto';
import { AgentkeysError } from '../errors.js';
import type { RegistryInput } from '../signing/registry.js';
import type { AuditSigner } from '../signing/signer.js';
import type { VerificationKey } from '../signing/verify.js';
import { KeyRing } from './keyring.js';
import type { KeyOf } from './tree-cursor.js';
import { loadKeyRing } from './verify-source.js';

type WithKeys = AuditSigner & { publicKeyDer?(): Promise<Buffer | undefined>; verificationKey?(): VerificationKey };

export async function writerKeyOf(signer: WithKeys, registry: RegistryInput | undefined): Promise<KeyOf> {
  const own = await ownKey(signer);
  const ring = registry === undefined ? undefined : await registryRing(registry);
  return (kid) => {
    const found = ring?.lookup(kid);
    if (found?.ok === true) return found.key;
    return kid === signer.kid ? own : undefined;
  };
}

async function ownKey(signer: WithKeys): Promise<VerificationKey | undefined> {
  if (signer.verificationKey) return signer.verificationKey();
  const der = await signer.publicKeyDer?.();
  if (!der || der.length === 0 || signer.alg === 'hmac-sha256') return undefined;
  return { alg: signer.alg, publicKey: createPublicKey({ key: der, format: 'der', type: 'spki' }) };
}

async function registryRing(registry: RegistryInput): Promise<KeyRing | undefined> {
  try {
    return new KeyRing((await loadKeyRing(registry, {}, 0, 'off')).keys);
  } catch (err) {
    // No registry yet (a first write): the writer's own key is the trust it has.
    if (err instanceof AgentkeysError && err.code === 'REGISTRY_NOT_FOUND') return undefined;
    throw err;
  }
}

/** The registry's keys alone, for a reader that holds no signer (verify-audit choosing an origin). */
export async function registryKeyOf(registry: RegistryInput): Promise<KeyOf> {
  const ring = await registryRing(registry);
  return (kid) => {
    const found = ring?.lookup(kid);
    return found?.ok === true ? found.key : undefined;
  };
}
