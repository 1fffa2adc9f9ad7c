// Detached signatures over arbitrary data (a key manager's sign(data) / verify(data, signature, keyId)):
// the signature bytes are the standard ones, so `aws kms verify` and openssl check them. KMS keys
// sign the data itself up to 4 KB (MessageType RAW) and its digest beyond (DIGEST), as `aws kms
// sign` users do; both sign the same hash of the data. Local keys sign as openssl does: ECDSA and
// RSA over SHA-256 of the data, Ed25519 over the data itself.
import { createHash, sign as cryptoSign, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { KeyMetadata, KmsApi, SigningAlgorithmSpec } from '../aws/kms.js';
import { UsageError } from '../errors.js';
import type { LocalKeySigner } from './signer.js';
import { verifySignature } from './verify.js';

/** Past this, KMS takes a digest instead of the message (its RAW limit). */
export const KMS_RAW_LIMIT = 4096;

export interface DetachedSignature {
  signature: Buffer;
  /** The KMS SigningAlgorithm, or the local algorithm (ed25519, ecdsa-p256, …). */
  algorithm: string;
  messageType?: 'RAW' | 'DIGEST';
}

const HASH_OF: Record<string, string> = { SHA_256: 'sha256', SHA_384: 'sha384', SHA_512: 'sha512' };

/** The signing algorithm: the one asked for if the key offers it, else the key's first. */
export function kmsSigningAlgorithm(meta: KeyMetadata, asked?: string): SigningAlgorithmSpec {
  const offered = meta.SigningAlgorithms ?? [];
  if (meta.KeyUsage !== 'SIGN_VERIFY' || offered.length === 0)
    throw new UsageError({
      code: 'KMS_KEY_WRONG_USAGE',
      message: `KMS key ${meta.Arn} is a ${meta.KeyUsage ?? 'non-signing'} key: it cannot sign`,
      hint: 'create a signing key: agentkeys keys create --spec ECC_NIST_P256 --alias alias/…',
    });
  if (asked === undefined) return offered[0]!;
  if (!offered.includes(asked as SigningAlgorithmSpec))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--alg ${asked} is not one of the key's signing algorithms: ${offered.join(', ')}`,
    });
  return asked as SigningAlgorithmSpec;
}

function kmsMessage(algorithm: string, data: Buffer): { Message: Buffer; MessageType: 'RAW' | 'DIGEST' } {
  if (data.length <= KMS_RAW_LIMIT) return { Message: data, MessageType: 'RAW' };
  const hash = HASH_OF[/SHA_(256|384|512)/.exec(algorithm)?.[0] ?? 'SHA_256'] ?? 'sha256';
  return { Message: createHash(hash).update(data).digest(), MessageType: 'DIGEST' };
}

export async function signDetachedKms(
  kms: KmsApi,
  meta: KeyMetadata,
  data: Buffer,
  asked?: string,
): Promise<DetachedSignature> {
  const algorithm = kmsSigningAlgorithm(meta, asked);
  const message = kmsMessage(algorithm, data);
  const signature = Buffer.from(await kms.sign({ KeyId: meta.Arn!, SigningAlgorithm: algorithm, ...message }));
  return { signature, algorithm, messageType: message.MessageType };
}

/** KMS Verify, as `aws kms verify` does it: true when the signature is valid. */
export async function verifyDetachedKms(
  kms: KmsApi,
  meta: KeyMetadata,
  data: Buffer,
  signature: Buffer,
  asked?: string,
): Promise<boolean> {
  const algorithm = kmsSigningAlgorithm(meta, asked);
  return kms.verify({
    KeyId: meta.Arn!,
    SigningAlgorithm: algorithm,
    Signature: signature,
    ...kmsMessage(algorithm, data),
  });
}

export async function signDetachedLocal(signer: LocalKeySigner, data: Buffer): Promise<DetachedSignature> {
  const ed = signer.ed25519PrivateKey;
  if (ed) return { signature: cryptoSign(null, data, ed), algorithm: 'ed25519' };
  const digest = createHash('sha256').update(data).digest();
  return { signature: await signer.sign(digest), algorithm: signer.alg };
}

export function verifyDetachedLocal(alg: string, publicKey: KeyObject, data: Buffer, signature: Buffer): boolean {
  if (alg === 'ed25519') return cryptoVerify(null, data, publicKey, signature);
  const digest = createHash('sha256').update(data).digest();
  return verifySignature(
    { alg: alg as 'rsa-sha256' | 'ecdsa-p256' | 'ecdsa-secp256k1', publicKey },
    { message: data, digest },
    signature,
  );
}
