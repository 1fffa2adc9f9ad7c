// Models: asymmetric SIGN_VERIFY ECC keys (ECC_NIST_P256, ECC_SECG_P256K1) backed by real
// node:crypto key pairs, so a public key it hands out verifies what it signs; aliases; tags.
// DIGEST signing only. Leaves out: RSA, symmetric keys and data keys, HMAC, Ed25519, key states other than Enabled, replication, grants and key policies.
import { generateKeyPairSync, randomUUID, type KeyObject } from 'node:crypto';
import { p256 } from '@noble/curves/nist.js';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import type { KeyMetadata, KmsApi } from '../../src/aws/kms.js';
import { AgentkeysError } from '../../src/errors.js';
import { conflict } from './account.js';

// node:crypto cannot sign a digest it is handed (it always hashes), so the ECDSA of a DIGEST is noble's.
const CURVES = {
  ECC_NIST_P256: { curve: 'prime256v1', ecdsa: p256 },
  ECC_SECG_P256K1: { curve: 'secp256k1', ecdsa: secp256k1 },
} as const;

interface Key {
  meta: KeyMetadata;
  privateKey: KeyObject;
  publicDer: Uint8Array;
  tags: Record<string, string>;
}

function notModelled(op: string): never {
  throw new AgentkeysError({
    code: 'AWS_CALL_FAILED',
    message: `kms:${op} is not modelled by the fake account (use moto)`,
  });
}

export function fakeKms(account: string, region: string): KmsApi {
  const keys = new Map<string, Key>();
  const aliases = new Map<string, string>();
  const find = (ref: string): Key => {
    const id = aliases.get(ref) ?? ref.replace(/^arn:aws:kms:[^:]+:\d+:key\//, '');
    const key = keys.get(id);
    if (!key) throw new AgentkeysError({ code: 'KMS_KEY_NOT_FOUND', message: `KMS key ${ref} not found (fake)` });
    return key;
  };
  return {
    region,
    get client(): never {
      return notModelled('client');
    },
    describeKey: async (ref) => structuredClone(find(ref).meta),
    getPublicKey: async (ref) => find(ref).publicDer,
    sign: async (input) => {
      const key = find(input.KeyId!);
      if (input.MessageType !== 'DIGEST') notModelled('Sign RAW');
      const d = Buffer.from(key.privateKey.export({ format: 'jwk' }).d!, 'base64url');
      return CURVES[key.meta.KeySpec as keyof typeof CURVES].ecdsa.sign(input.Message!, d, {
        prehash: false,
        format: 'der',
      });
    },
    verify: async () => notModelled('Verify'),
    generateMac: async () => notModelled('GenerateMac'),
    verifyMac: async () => notModelled('VerifyMac'),
    createKey: async (input) => {
      const spec = CURVES[input.KeySpec as keyof typeof CURVES] as (typeof CURVES)[keyof typeof CURVES] | undefined;
      if (!spec || input.KeyUsage !== 'SIGN_VERIFY') notModelled(`CreateKey ${input.KeySpec}/${input.KeyUsage}`);
      const pair = generateKeyPairSync('ec', { namedCurve: spec.curve });
      const id = randomUUID();
      const meta: KeyMetadata = {
        KeyId: id,
        Arn: `arn:aws:kms:${region}:${account}:key/${id}`,
        KeySpec: input.KeySpec,
        KeyUsage: 'SIGN_VERIFY',
        KeyState: 'Enabled',
        Enabled: true,
        Origin: 'AWS_KMS',
        CreationDate: new Date(),
        Description: input.Description ?? '',
      };
      const tags = Object.fromEntries((input.Tags ?? []).map((t) => [t.TagKey!, t.TagValue!]));
      keys.set(id, {
        meta,
        privateKey: pair.privateKey,
        publicDer: new Uint8Array(pair.publicKey.export({ type: 'spki', format: 'der' })),
        tags,
      });
      return structuredClone(meta);
    },
    createAlias: async (alias, keyId) => {
      if (aliases.has(alias)) throw conflict(`alias ${alias}`);
      aliases.set(alias, find(keyId).meta.KeyId!);
    },
    updateAlias: async (alias, keyId) => void aliases.set(alias, find(keyId).meta.KeyId!),
    listAliases: async (keyId) =>
      [...aliases]
        .filter(([, id]) => !keyId || id === find(keyId).meta.KeyId)
        .map(([AliasName, TargetKeyId]) => ({ AliasName, TargetKeyId })),
    listResourceTags: async (ref) => ({ ...find(ref).tags }),
    tagResource: async (ref, tags) => void Object.assign(find(ref).tags, tags),
    replicateKey: async () => notModelled('ReplicateKey'),
    getKeyRotationStatus: async () => notModelled('GetKeyRotationStatus'),
    enableKeyRotation: async () => notModelled('EnableKeyRotation'),
    generateDataKey: async () => notModelled('GenerateDataKey'),
    decrypt: async () => notModelled('Decrypt'),
  };
}
