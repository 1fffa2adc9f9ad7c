import { createPublicKey, type KeyObject } from 'node:crypto';
import type { KeyMetadata, KmsApi, SigningAlgorithmSpec } from '../aws/kms.js';
import { InternalError, UsageError } from '../errors.js';
import type { SigningAlg } from './algorithms.js';
import type { KmsKeyCache } from './kms-key-cache.js';
import { assertDigest, type AuditSigner } from './signer.js';
import { verifySignature, type SignedBytes } from './verify.js';

/** Our algorithm for each KMS KeySpec that can sign a SHA-256 audit digest. */
const SPEC_TO_ALG: Record<string, SigningAlg> = {
  RSA_2048: 'rsa-sha256',
  RSA_3072: 'rsa-sha256',
  RSA_4096: 'rsa-sha256',
  ECC_NIST_P256: 'ecdsa-p256',
  ECC_SECG_P256K1: 'ecdsa-secp256k1',
  ECC_NIST_EDWARDS25519: 'ed25519',
  HMAC_256: 'hmac-sha256',
};

/** The KMS KeySpec agentkeys creates for each algorithm. */
export const ALG_TO_SPEC: Record<SigningAlg, string> = {
  'rsa-sha256': 'RSA_2048',
  'ecdsa-p256': 'ECC_NIST_P256',
  'ecdsa-secp256k1': 'ECC_SECG_P256K1',
  ed25519: 'ECC_NIST_EDWARDS25519',
  'hmac-sha256': 'HMAC_256',
};

export function algorithmOfKeySpec(spec: string | undefined, keyRef: string): SigningAlg {
  const alg = spec ? SPEC_TO_ALG[spec] : undefined;
  if (!alg) {
    throw new UsageError({
      code: 'KMS_KEY_SPEC_UNSUPPORTED',
      message: `KMS key ${keyRef} has KeySpec ${spec ?? 'unknown'}, which cannot sign SHA-256 audit digests`,
      hint: `use a key of spec ${Object.keys(SPEC_TO_ALG).join(', ')}`,
    });
  }
  return alg;
}

/**
 * The exact Sign request for each algorithm (docs/audit-format.md §5): RSA and ECDSA sign
 * the 32-byte digest with MessageType DIGEST (one hash, never two); Ed25519 is pure Ed25519 over
 * the 32 bytes with MessageType RAW (ED25519_PH_SHA_512 would be Ed25519ph, incompatible).
 */
export function signRequest(
  alg: Exclude<SigningAlg, 'hmac-sha256'>,
  keyArn: string,
  digest: Uint8Array,
): { KeyId: string; Message: Uint8Array; MessageType: 'DIGEST' | 'RAW'; SigningAlgorithm: SigningAlgorithmSpec } {
  switch (alg) {
    case 'rsa-sha256':
      return { KeyId: keyArn, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256' };
    case 'ecdsa-p256':
    case 'ecdsa-secp256k1':
      return { KeyId: keyArn, Message: digest, MessageType: 'DIGEST', SigningAlgorithm: 'ECDSA_SHA_256' };
    case 'ed25519':
      return {
        KeyId: keyArn,
        Message: digest,
        MessageType: 'RAW',
        SigningAlgorithm: 'ED25519_SHA_512' as SigningAlgorithmSpec,
      };
  }
}

/** A key that is disabled or pending deletion cannot sign: said before any Sign call. */
export function assertKeyEnabled(meta: KeyMetadata): void {
  if (meta.KeyState && meta.KeyState !== 'Enabled') {
    throw new UsageError({
      code: 'KMS_KEY_INVALID_STATE',
      message: `KMS key ${meta.Arn} is ${meta.KeyState}`,
      hint: 'sign with an enabled key (agentkeys keys describe)',
    });
  }
}

/**
 * Signs audit digests with a KMS key. The algorithm comes from the key's KeySpec (DescribeKey,
 * once), never from a guess; signer_kid is the key ARN resolved from any alias, so moving the
 * alias later cannot make old events ambiguous; every signature is checked locally before use.
 */
export class KmsSigner implements AuditSigner {
  private publicKey: KeyObject | undefined;

  private constructor(
    private readonly kms: KmsApi,
    readonly kid: string,
    readonly alg: SigningAlg,
    readonly metadata: KeyMetadata,
  ) {}

  /** The key every KMS call names; the kid written into events is this ARN unless one was chosen. */
  get keyArn(): string {
    return this.metadata.Arn!;
  }

  get source(): string {
    return this.kid === this.keyArn ? `KMS key ${this.kid}` : `KMS key ${this.keyArn} as ${this.kid}`;
  }

  /**
   * `opts.kid`: an explicit signer kid (AUDIT_SIGNER_KID), for registries that name signers by a
   * label; the registry entry then records the ARN as keyArn. Default: the ARN itself.
   */
  static async open(kms: KmsApi, keyRef: string, opts: { kid?: string; cache?: KmsKeyCache } = {}): Promise<KmsSigner> {
    const cached = await opts.cache?.get(keyRef);
    const meta = cached?.metadata ?? (await kms.describeKey(keyRef));
    const alg = algorithmOfKeySpec(meta.KeySpec, keyRef);
    const usage = alg === 'hmac-sha256' ? 'GENERATE_VERIFY_MAC' : 'SIGN_VERIFY';
    if (meta.KeyUsage !== usage) {
      throw new UsageError({
        code: 'KMS_KEY_WRONG_USAGE',
        message: `KMS key ${meta.Arn} has KeyUsage ${meta.KeyUsage}, not ${usage}`,
        hint: 'audit events need an asymmetric SIGN_VERIFY key or an HMAC key',
      });
    }
    assertKeyEnabled(meta);
    const signer = new KmsSigner(kms, opts.kid ?? meta.Arn!, alg, meta);
    if (cached?.publicKeyDer) signer.publicKey = spki(cached.publicKeyDer);
    signer.fromCache = cached !== undefined;
    signer.keyRef = keyRef;
    if (opts.cache) signer.cache = opts.cache;
    if (alg !== 'hmac-sha256') await signer.loadPublicKey();
    if (!cached) await opts.cache?.put(keyRef, { metadata: meta, ...(await signer.derIfAny()) });
    return signer;
  }

  /** Whether the key's metadata and public key came from .agentkeys/cache (not from KMS this run). */
  fromCache = false;
  private keyRef = '';
  private cache: KmsKeyCache | undefined;

  /**
   * The public key from KMS itself, replacing a cached one: before the key is published or
   * compared with the registry, what a cache file says is not enough.
   */
  async refreshPublicKey(): Promise<void> {
    if (this.alg === 'hmac-sha256' || !this.fromCache) return;
    // The key the reference names now, by KMS: a cache file whose ARN is another key (planted, or
    // left from before the alias moved) never gets that key published under this reference.
    const now = await this.kms.describeKey(this.keyRef);
    const arn = now.Arn;
    if (arn !== this.keyArn) {
      await this.cache?.put(this.keyRef, { metadata: now });
      throw new UsageError({
        code: 'KMS_KEY_CACHE_MISMATCH',
        message:
          `the key cache says ${this.keyRef} is ${this.keyArn}, but KMS says ${arn}: ` +
          'nothing was signed or published',
        hint: 'the cache entry was replaced with what KMS says; run the command again',
      });
    }
    this.publicKey = spki(await this.kms.getPublicKey(this.keyArn));
    this.fromCache = false;
  }

  private async derIfAny(): Promise<{ publicKeyDer?: Buffer }> {
    const der = await this.publicKeyDer();
    return der ? { publicKeyDer: der } : {};
  }

  async sign(digest: Buffer): Promise<Buffer> {
    assertDigest(digest);
    if (this.alg === 'hmac-sha256') return Buffer.from(await this.kms.generateMac(this.keyArn, digest));
    return Buffer.from(await this.kms.sign(signRequest(this.alg, this.keyArn, digest)));
  }

  async verifyOwn(signed: SignedBytes, signature: Buffer): Promise<boolean> {
    if (this.alg === 'hmac-sha256') return this.kms.verifyMac(this.keyArn, signed.digest, signature);
    return verifySignature({ alg: this.alg, publicKey: await this.loadPublicKey() }, signed, signature);
  }

  async loadPublicKey(): Promise<KeyObject> {
    if (this.alg === 'hmac-sha256')
      throw new InternalError({ code: 'KMS_HMAC_HAS_NO_PUBLIC_KEY', message: `${this.kid} is an HMAC key` });
    this.publicKey ??= spki(await this.kms.getPublicKey(this.keyArn));
    return this.publicKey;
  }

  async publicKeyDer(): Promise<Buffer | undefined> {
    if (this.alg === 'hmac-sha256') return undefined;
    return (await this.loadPublicKey()).export({ type: 'spki', format: 'der' });
  }

  publicKeyPem(): Promise<string> {
    return this.loadPublicKey().then((k) => k.export({ type: 'spki', format: 'pem' }).toString());
  }
}

function spki(der: Uint8Array): KeyObject {
  return createPublicKey({ key: Buffer.from(der), format: 'der', type: 'spki' });
}
