import { createHmac, timingSafeEqual, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { SigningAlg } from './algorithms.js';

/** What an event's signature covers: the 32-byte digest, and the bytes it is the SHA-256 of. */
export interface SignedBytes {
  /** UTF-8(canonical(payload)) || prev_hash bytes. */
  message: Buffer;
  /** SHA-256(message). */
  digest: Buffer;
}

export type VerificationKey =
  { alg: Exclude<SigningAlg, 'hmac-sha256'>; publicKey: KeyObject } | { alg: 'hmac-sha256'; secret: Buffer };

/**
 * Checks one signature offline. RSA is PKCS#1 v1.5 only (no silent PSS fallback), Ed25519 is pure
 * Ed25519 over the 32 digest bytes, ECDSA is DER over the digest, HMAC is compared in constant time.
 * RSA and ECDSA sign SHA-256(message) = digest, so verifying the message with 'sha256' is exactly
 * verifying the digest with MessageType DIGEST.
 */
export function verifySignature(key: VerificationKey, signed: SignedBytes, signature: Buffer): boolean {
  switch (key.alg) {
    case 'ed25519':
      return cryptoVerify(null, signed.digest, key.publicKey, signature);
    case 'rsa-sha256':
      return cryptoVerify('sha256', signed.message, key.publicKey, signature);
    case 'ecdsa-p256':
    case 'ecdsa-secp256k1':
      return cryptoVerify('sha256', signed.message, { key: key.publicKey, dsaEncoding: 'der' }, signature);
    case 'hmac-sha256': {
      const expected = createHmac('sha256', key.secret).update(signed.digest).digest();
      return signature.length === expected.length && timingSafeEqual(signature, expected);
    }
  }
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict standard base64 (padded); hex or url-safe input is not guessed at. */
export function decodeBase64Strict(text: string): Buffer | undefined {
  return BASE64.test(text) ? Buffer.from(text, 'base64') : undefined;
}
