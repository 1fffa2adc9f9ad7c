import {
  createHmac,
  createPrivateKey,
  createPublicKey,
  privateEncrypt,
  sign as cryptoSign,
  constants,
  type KeyObject,
} from 'node:crypto';
import { InternalError, UsageError } from '../errors.js';
import { algorithmOfKey, type SigningAlg } from './algorithms.js';
import { verifySignature, type SignedBytes, type VerificationKey } from './verify.js';

/**
 * Anything that signs a 32-byte audit digest. The local signer below and the KMS signer
 * (src/aws/kms-signer.ts) both implement it; callers never know which one they hold.
 */
export interface AuditSigner {
  /** Goes into the row's signer_kid. */
  readonly kid: string;
  readonly alg: SigningAlg;
  /** Where the key lives, for messages: 'local file …', 'KMS arn:…'. */
  readonly source: string;
  sign(digest: Buffer): Promise<Buffer>;
  /**
   * Checks a signature this signer produced, locally with its public key where there is one
   * (HMAC keys held by KMS are checked with VerifyMac). Used before anything is written.
   */
  verifyOwn(signed: SignedBytes, signature: Buffer): Promise<boolean>;
}

// DER prefix of DigestInfo(sha256) for RSASSA-PKCS1-v1_5 (RFC 8017 §9.2 note 1).
const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

export function assertDigest(digest: Uint8Array): void {
  if (digest.length !== 32) {
    // Only SHA-256 digests are ever signed; anything else is a bug (docs/audit-format.md §5.1).
    throw new InternalError({
      code: 'DIGEST_NOT_32_BYTES',
      message: `refusing to sign ${digest.length} bytes: only 32-byte digests are signed`,
    });
  }
}

export class LocalKeySigner implements AuditSigner {
  readonly alg: SigningAlg;
  private readonly publicKey: KeyObject;

  constructor(
    readonly kid: string,
    private readonly privateKey: KeyObject,
    readonly source: string,
  ) {
    const alg = algorithmOfKey(privateKey);
    if (!alg) {
      throw new UsageError({
        code: 'KEY_UNSUPPORTED',
        message: `${source}: unsupported key type ${privateKey.asymmetricKeyType ?? privateKey.type}`,
        hint: 'use an Ed25519, RSA, P-256 or secp256k1 private key',
      });
    }
    this.alg = alg;
    this.publicKey = createPublicKey(privateKey);
  }

  async sign(digest: Buffer): Promise<Buffer> {
    assertDigest(digest);
    switch (this.alg) {
      case 'ed25519':
        return cryptoSign(null, digest, this.privateKey);
      case 'rsa-sha256':
        // Node cannot sign a pre-hashed digest with sign(); this is RSASSA-PKCS1-v1_5 done by hand
        // over the validated 32-byte digest, byte-identical to sign('sha256', message).
        return privateEncrypt(
          { key: this.privateKey, padding: constants.RSA_PKCS1_PADDING },
          Buffer.concat([SHA256_DIGEST_INFO, digest]),
        );
      // The curves are loaded when an ECDSA key first signs: an Ed25519 signer never pays for them.
      case 'ecdsa-p256': {
        const { p256 } = await import('@noble/curves/nist.js');
        return Buffer.from(p256.sign(digest, this.secretScalar(), { prehash: false, format: 'der' }));
      }
      case 'ecdsa-secp256k1': {
        const { secp256k1 } = await import('@noble/curves/secp256k1.js');
        return Buffer.from(secp256k1.sign(digest, this.secretScalar(), { prehash: false, format: 'der' }));
      }
      default:
        throw new InternalError({ code: 'SIGNER_ALG_UNREACHABLE', message: `no local signing for ${this.alg}` });
    }
  }

  async verifyOwn(signed: SignedBytes, signature: Buffer): Promise<boolean> {
    return verifySignature(
      { alg: this.alg as Exclude<SigningAlg, 'hmac-sha256'>, publicKey: this.publicKey },
      signed,
      signature,
    );
  }

  publicKeyPem(): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString();
  }

  async publicKeyDer(): Promise<Buffer> {
    return this.publicKey.export({ type: 'spki', format: 'der' });
  }

  /** Checkpoints signed by a local Ed25519 key sign the note text itself (C2SP type 0x01). */
  get ed25519PrivateKey(): KeyObject | undefined {
    return this.alg === 'ed25519' ? this.privateKey : undefined;
  }

  private secretScalar(): Uint8Array {
    const d = this.privateKey.export({ format: 'jwk' }).d;
    if (!d)
      throw new InternalError({
        code: 'KEY_EXPORT_FAILED',
        message: `${this.source}: cannot read the EC private scalar`,
      });
    return Buffer.from(d, 'base64url');
  }
}

/** HMAC-SHA256 keyed by the UTF-8 bytes of the secret string, exactly as Agent Manager does. */
export class HmacSigner implements AuditSigner {
  readonly alg = 'hmac-sha256' as const;
  private readonly secret: Buffer;

  constructor(
    readonly kid: string,
    secret: string,
    readonly source: string,
  ) {
    if (secret.length === 0)
      throw new UsageError({ code: 'HMAC_SECRET_EMPTY', message: `${source}: the HMAC secret is empty` });
    this.secret = Buffer.from(secret, 'utf8');
  }

  async sign(digest: Buffer): Promise<Buffer> {
    assertDigest(digest);
    return createHmac('sha256', this.secret).update(digest).digest();
  }

  async verifyOwn(signed: SignedBytes, signature: Buffer): Promise<boolean> {
    return verifySignature(this.verificationKey(), signed, signature);
  }

  /** The secret as a verification key: a writer opens its own checkpoints with it. */
  verificationKey(): VerificationKey {
    return { alg: 'hmac-sha256', secret: this.secret };
  }
}

/**
 * Signs and then checks the signature with the signer's own public key before handing it out,
 * so a faulty signer (a KMS or emulator bug, a wrong key spec) can never put an unverifiable
 * event into the log.
 */
export async function signAndCheck(signer: AuditSigner, signed: SignedBytes): Promise<Buffer> {
  const signature = await signer.sign(signed.digest);
  if (!(await signer.verifyOwn(signed, signature))) {
    throw new InternalError({
      code: 'SIGNATURE_SELF_CHECK_FAILED',
      message: `the signature from ${signer.source} does not verify with its own public key; nothing was written`,
      hint: 'check that the key and its algorithm match (agentkeys keys describe)',
    });
  }
  return signature;
}

export function loadPrivateKey(pem: string, source: string): KeyObject {
  try {
    return createPrivateKey(pem);
  } catch (err) {
    throw new UsageError({
      code: 'KEY_UNREADABLE',
      message: `${source} is not a PEM private key`,
      hint: 'create one with: agentkeys keys create --local --alg ed25519 --kid <kid>',
      cause: err,
    });
  }
}
