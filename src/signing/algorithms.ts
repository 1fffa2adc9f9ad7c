import type { KeyObject } from 'node:crypto';
import { UsageError } from '../errors.js';

export const SIGNING_ALGS = ['ed25519', 'rsa-sha256', 'ecdsa-p256', 'ecdsa-secp256k1', 'hmac-sha256'] as const;
export type SigningAlg = (typeof SIGNING_ALGS)[number];
export type AsymmetricAlg = Exclude<SigningAlg, 'hmac-sha256'>;

// Every spelling upstream registries, AWS KMS and JOSE use for the same scheme (docs/audit-format.md §10.6).
const ALIASES: Record<string, SigningAlg> = {
  ed25519: 'ed25519',
  eddsa: 'ed25519',
  ed25519_sha_512: 'ed25519',
  ecc_nist_edwards25519: 'ed25519',
  rsa: 'rsa-sha256',
  'rsa-sha256': 'rsa-sha256',
  rsa_sha256: 'rsa-sha256',
  rs256: 'rsa-sha256',
  rsassa_pkcs1_v1_5_sha_256: 'rsa-sha256',
  'ecdsa-p256': 'ecdsa-p256',
  'ecdsa-p-256': 'ecdsa-p256',
  es256: 'ecdsa-p256',
  p256: 'ecdsa-p256',
  'p-256': 'ecdsa-p256',
  prime256v1: 'ecdsa-p256',
  ecc_nist_p256: 'ecdsa-p256',
  'ecdsa-secp256k1': 'ecdsa-secp256k1',
  secp256k1: 'ecdsa-secp256k1',
  es256k: 'ecdsa-secp256k1',
  ecc_secg_p256k1: 'ecdsa-secp256k1',
  'hmac-sha256': 'hmac-sha256',
  hmac: 'hmac-sha256',
  hs256: 'hmac-sha256',
  hmac_sha_256: 'hmac-sha256',
  hmac_256: 'hmac-sha256',
};

/** Maps any known spelling, case-insensitively, to our name; undefined when unknown. */
export function normalizeAlgorithm(name: string): SigningAlg | undefined {
  return ALIASES[name.trim().toLowerCase()];
}

export function parseAlgorithm(name: string, what = 'algorithm'): SigningAlg {
  const alg = normalizeAlgorithm(name);
  if (!alg) {
    throw new UsageError({
      code: 'UNKNOWN_ALGORITHM',
      message: `unknown ${what} "${name}"`,
      hint: `use one of: ${SIGNING_ALGS.join(', ')}`,
    });
  }
  return alg;
}

/** The algorithm a public or private key can only be used with; undefined for unsupported keys. */
export function algorithmOfKey(key: KeyObject): AsymmetricAlg | undefined {
  switch (key.asymmetricKeyType) {
    case 'ed25519':
      return 'ed25519';
    case 'rsa':
      return 'rsa-sha256';
    case 'ec': {
      const curve = key.asymmetricKeyDetails?.namedCurve;
      if (curve === 'prime256v1') return 'ecdsa-p256';
      if (curve === 'secp256k1') return 'ecdsa-secp256k1';
      return undefined;
    }
    default:
      return undefined;
  }
}

/** Accepted signature lengths in bytes; ECDSA signatures are DER, as KMS returns them. */
export function isPlausibleSignatureLength(alg: SigningAlg, length: number, key?: KeyObject): boolean {
  switch (alg) {
    case 'ed25519':
      return length === 64;
    case 'hmac-sha256':
      return length === 32;
    case 'rsa-sha256': {
      const bits = key?.asymmetricKeyDetails?.modulusLength;
      return bits === undefined ? length >= 128 : length === Math.ceil(bits / 8);
    }
    case 'ecdsa-p256':
    case 'ecdsa-secp256k1':
      return length >= 8 && length <= 72 && length > 0;
  }
}
