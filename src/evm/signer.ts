// The two EVM signers: a KMS ECC_SECG_P256K1 key (the Agentic Vault signer) and a local secp256k1
// PEM. Both hand out only signatures that recover to their own address.
import type { AgentkeysConfig } from '../config/load.js';
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import type { Address, Hex } from 'viem';
import type { KmsApi } from '../aws/kms.js';
import { assertKeyEnabled } from '../signing/kms-signer.js';
import { UsageError } from '../errors.js';
import {
  assertSecp256k1,
  lowSFromDer,
  publicKeyFromSpki,
  signWithScalar,
  uncompressedPublicKey,
  withRecoveryBit,
  type EvmSignature,
} from './secp256k1.js';
import { publicKeyToAddress } from 'viem/accounts';
import { readOperatorText } from '../sys/operator-file.js';

export interface EvmSigner {
  readonly address: Address;
  /** The key ARN (KMS) or the key file path. */
  readonly keyId: string;
  /** 0x04‖x‖y. */
  readonly publicKey: Hex;
  /** For messages: 'KMS key arn:…' or 'key file …'. */
  readonly source: string;
  /** Signs a 32-byte hash; the result is low-s and recovers to `address`. */
  signHash(hash: Hex): Promise<EvmSignature>;
}

/** The KMS calls an EVM signer makes (a subset of KmsApi). */
export type EvmKmsApi = Pick<KmsApi, 'describeKey' | 'getPublicKey' | 'sign'>;

export const EVM_KEY_SPEC = 'ECC_SECG_P256K1';

/**
 * `Sign` with ECDSA_SHA_256 and MessageType DIGEST over the keccak256 hash: KMS signs those 32
 * bytes as given (no second hash), then the signature is made low-s and its recovery bit found.
 */
export class KmsEvmSigner implements EvmSigner {
  private constructor(
    private readonly kms: EvmKmsApi,
    readonly keyId: string,
    readonly address: Address,
    readonly publicKey: Hex,
  ) {}

  get source(): string {
    return `KMS key ${this.keyId}`;
  }

  static async open(kms: EvmKmsApi, keyRef: string): Promise<KmsEvmSigner> {
    const meta = await kms.describeKey(keyRef);
    if (meta.KeySpec !== EVM_KEY_SPEC) {
      throw new UsageError({
        code: 'KEY_SPEC_UNSUPPORTED',
        message:
          `KMS key ${meta.Arn ?? keyRef} has KeySpec ${meta.KeySpec ?? 'unknown'}; ` +
          `EVM signing needs ${EVM_KEY_SPEC}`,
        hint: 'create one: agentkeys keys create --spec ECC_SECG_P256K1 --alias alias/agentic-vault',
      });
    }
    assertKeyEnabled(meta);
    const arn = meta.Arn!;
    const { address, publicKey } = await publicKeyOf(kms, arn);
    return new KmsEvmSigner(kms, arn, address, publicKey);
  }

  async signHash(hash: Hex): Promise<EvmSignature> {
    assertHash(hash);
    const der = await this.kms.sign({
      KeyId: this.keyId,
      Message: Buffer.from(hash.slice(2), 'hex'),
      MessageType: 'DIGEST',
      SigningAlgorithm: 'ECDSA_SHA_256',
    });
    const { r, s } = lowSFromDer(der);
    return withRecoveryBit(hash, r, s, this.address);
  }
}

// An address never changes for a key ARN, so it is fetched once per process (GetPublicKey).
const addressCache = new Map<string, Promise<{ address: Address; publicKey: Hex }>>();

async function publicKeyOf(kms: EvmKmsApi, arn: string): Promise<{ address: Address; publicKey: Hex }> {
  let entry = addressCache.get(arn);
  if (!entry) {
    entry = kms.getPublicKey(arn).then((spki) => publicKeyFromSpki(spki, `KMS key ${arn}`));
    addressCache.set(arn, entry);
    entry.catch(() => addressCache.delete(arn));
  }
  return entry;
}

/** For benchmarks and tests: forget cached addresses. */
export function clearEvmAddressCache(): void {
  addressCache.clear();
}

export class LocalEvmSigner implements EvmSigner {
  readonly address: Address;
  readonly publicKey: Hex;
  private readonly scalar: Uint8Array;

  constructor(
    privateKey: KeyObject,
    readonly keyId: string,
  ) {
    assertSecp256k1(privateKey, this.source);
    this.publicKey = uncompressedPublicKey(createPublicKey(privateKey));
    this.address = publicKeyToAddress(this.publicKey);
    this.scalar = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  }

  get source(): string {
    return `key file ${this.keyId}`;
  }

  static async fromFile(file: string): Promise<LocalEvmSigner> {
    const pem = await readOperatorText(file, {
      code: 'KEY_NOT_FOUND',
      what: 'key file',
      hint: 'create one: agentkeys keys create --local --alg ecdsa-secp256k1 --kid vault',
    });
    let key: KeyObject;
    try {
      key = createPrivateKey(pem);
    } catch (err) {
      throw new UsageError({
        code: 'KEY_UNREADABLE',
        message: `key file ${file} is not a PEM private key`,
        hint: 'pass a secp256k1 private key in PEM (PKCS#8 or SEC1)',
        cause: err,
      });
    }
    return new LocalEvmSigner(key, file);
  }

  async signHash(hash: Hex): Promise<EvmSignature> {
    assertHash(hash);
    return signWithScalar(hash, this.scalar, this.address);
  }
}

function assertHash(hash: Hex): void {
  if (!/^0x[0-9a-f]{64}$/i.test(hash))
    throw new UsageError({
      code: 'EVM_HASH_INVALID',
      message: `refusing to sign "${hash}": only 32-byte hashes are signed`,
    });
}

/** KEYREF: kms:<id|alias|arn>, file:<secp256k1 PEM> or local:<kid> (a key of `keys create --local`). */
export async function openEvmSigner(
  keyRef: string,
  openKms: () => EvmKmsApi | Promise<EvmKmsApi>,
  localDir = '.agentkeys',
): Promise<EvmSigner> {
  if (keyRef.startsWith('file:') && keyRef.length > 5) return LocalEvmSigner.fromFile(keyRef.slice(5));
  if (keyRef.startsWith('local:') && keyRef.length > 6)
    return LocalEvmSigner.fromFile(path.join(localDir, 'keys', `${keyRef.slice(6)}.pem`));
  const ref = keyRef.startsWith('kms:') ? keyRef.slice(4) : keyRef;
  if (!ref || /^(local|file):/.test(keyRef)) {
    throw new UsageError({
      code: 'KEYREF_INVALID',
      message: `"${keyRef}" is not kms:<id|alias|arn> or file:<secp256k1 PEM>`,
      hint: '--key kms:alias/agentic-vault',
    });
  }
  return KmsEvmSigner.open(await openKms(), ref);
}

/** --key, else VAULT_KEY_ID (a bare id or alias means KMS, as in the seed). */
export function evmKeyRef(flag: string | undefined, config: Pick<AgentkeysConfig, 'vaultKeyId' | 'dir'>): string {
  const ref = flag ?? config.vaultKeyId;
  if (!ref)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: 'no EVM key: pass --key or set VAULT_KEY_ID',
      hint:
        '--key kms:alias/agentic-vault (create one: agentkeys keys create --spec ' +
        'ECC_SECG_P256K1 --alias alias/agentic-vault)',
    });
  if (/^(kms|file|local):/.test(ref)) return ref;
  // A bare name is a KMS key id or alias; when a local key of that name exists, the operator
  // most likely meant it, and KMS would answer with a credentials error that says nothing of it.
  const local = path.join(config.dir, 'keys', `${ref}.pem`);
  if (existsSync(local))
    throw new UsageError({
      code: 'KEY_REF_AMBIGUOUS',
      message: `"${ref}" names both a KMS key reference and the local key ${local}`,
      hint: `--key local:${ref} for the local key, or --key kms:${ref} for KMS`,
    });
  return `kms:${ref}`;
}
