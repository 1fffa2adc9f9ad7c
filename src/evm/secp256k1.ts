// secp256k1 as Ethereum uses it: addresses from public keys, low-s signatures and the recovery
// bit. The maths is @noble/curves' and viem's; this file only glues them to KMS's DER output.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { bytesToHex, getAddress, hexToBytes, type Address, type Hex } from 'viem';
import { publicKeyToAddress } from 'viem/accounts';
import { InternalError, UsageError } from '../errors.js';

/** An Ethereum signature: r and s as 32-byte hex, yParity 0 or 1 (v = 27 + yParity). */
export interface EvmSignature {
  r: Hex;
  s: Hex;
  yParity: 0 | 1;
}

const N = secp256k1.Point.Fn.ORDER;
const HALF_N = N >> 1n;

/** The key must be secp256k1; anything else cannot sign for an Ethereum address. */
export function assertSecp256k1(key: KeyObject, source: string): void {
  const curve = key.asymmetricKeyType === 'ec' ? key.asymmetricKeyDetails?.namedCurve : undefined;
  if (curve !== 'secp256k1') {
    throw new UsageError({
      code: 'KEY_SPEC_UNSUPPORTED',
      message: `${source} is ${curve ?? key.asymmetricKeyType ?? key.type}, not secp256k1: it cannot sign EVM messages`,
      hint: 'use a KMS key of spec ECC_SECG_P256K1 (agentkeys keys create --spec ECC_SECG_P256K1) or a secp256k1 PEM',
    });
  }
}

/** 0x04‖x‖y, the 65-byte uncompressed public key keccak256 hashes into the address. */
export function uncompressedPublicKey(key: KeyObject): Hex {
  const jwk = key.export({ format: 'jwk' });
  const x = Buffer.from(jwk.x!, 'base64url');
  const y = Buffer.from(jwk.y!, 'base64url');
  return bytesToHex(Buffer.concat([Buffer.from([4]), x, y]));
}

/** The address of a secp256k1 public key object. */
export function addressOfPublicKey(key: KeyObject, source: string): Address {
  assertSecp256k1(key, source);
  return publicKeyToAddress(uncompressedPublicKey(key));
}

/** The public half of a DER SPKI (what KMS GetPublicKey returns), checked to be secp256k1. */
export function publicKeyFromSpki(spki: Uint8Array, source: string): { publicKey: Hex; address: Address } {
  const key = createPublicKey({ key: Buffer.from(spki), format: 'der', type: 'spki' });
  assertSecp256k1(key, source);
  const publicKey = uncompressedPublicKey(key);
  return { publicKey, address: publicKeyToAddress(publicKey) };
}

/**
 * KMS returns a DER ECDSA signature with whatever s the HSM produced; Ethereum (EIP-2) accepts
 * only s ≤ n/2, so about half of them are flipped to n − s, which is the same signature.
 */
export function lowSFromDer(der: Uint8Array): { r: bigint; s: bigint } {
  let sig;
  try {
    sig = secp256k1.Signature.fromBytes(der, 'der');
  } catch (err) {
    throw new InternalError({
      code: 'EVM_SIGNATURE_MALFORMED',
      message: 'KMS returned a signature that is not DER ECDSA',
      cause: err,
    });
  }
  return { r: sig.r, s: sig.s > HALF_N ? N - sig.s : sig.s };
}

/**
 * Finds the recovery bit by recovering the public key for both parities and keeping the one whose
 * address is the signer's. If neither matches, the signature is not this key's: never returned.
 */
export function withRecoveryBit(digest: Hex, r: bigint, s: bigint, address: Address): EvmSignature {
  const hash = hexToBytes(digest);
  for (const bit of [0, 1] as const) {
    if (recoversTo(hash, r, s, bit, address)) return { r: toHex32(r), s: toHex32(s), yParity: bit };
  }
  throw selfCheckFailed(address);
}

/**
 * Signs a 32-byte hash with a local secp256k1 scalar (RFC 6979, low-s). noble reports the
 * recovery bit; the signature is still recovered once and compared with the address.
 */
export function signWithScalar(digest: Hex, scalar: Uint8Array, address: Address): EvmSignature {
  const hash = hexToBytes(digest);
  const sig = secp256k1.Signature.fromBytes(
    secp256k1.sign(hash, scalar, { prehash: false, lowS: true, format: 'recovered' }),
    'recovered',
  );
  const bit = sig.recovery === 1 ? 1 : 0;
  if (!recoversTo(hash, sig.r, sig.s, bit, address)) throw selfCheckFailed(address);
  return { r: toHex32(sig.r), s: toHex32(sig.s), yParity: bit };
}

function recoversTo(hash: Uint8Array, r: bigint, s: bigint, bit: 0 | 1, address: Address): boolean {
  try {
    const point = new secp256k1.Signature(r, s).addRecoveryBit(bit).recoverPublicKey(hash);
    return publicKeyToAddress(bytesToHex(point.toBytes(false))) === address;
  } catch {
    return false;
  }
}

function selfCheckFailed(address: Address): InternalError {
  return new InternalError({
    code: 'EVM_SIGNATURE_SELF_CHECK_FAILED',
    message: `the signature does not recover to ${address}; nothing was returned`,
    hint: 'the key behind the alias may have changed during the call; retry',
  });
}

export function isLowS(s: Hex): boolean {
  return BigInt(s) <= HALF_N;
}

export function checksumAddress(text: string, what = 'address'): Address {
  try {
    return getAddress(text);
  } catch {
    throw new UsageError({
      code: 'EVM_ADDRESS_INVALID',
      message: `${what} "${text}" is not an Ethereum address`,
      hint: 'pass 0x followed by 40 hex characters',
    });
  }
}

function toHex32(n: bigint): Hex {
  return `0x${n.toString(16).padStart(64, '0')}`;
}
