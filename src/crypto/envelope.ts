import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { pipeline } from 'node:stream/promises';
import { Transform, type Readable, type Writable } from 'node:stream';
import {
  AwsKmsMrkAwareSymmetricKeyringNode,
  buildAwsKmsMrkAwareStrictMultiKeyringNode,
  buildClient,
  CommitmentPolicy,
  getLocalCryptographicMaterialsCache,
  KmsKeyringNode,
  MultiKeyringNode,
  NodeCachingMaterialsManager,
  type KeyringNode,
} from '@aws-crypto/client-node';
import { NodeAlgorithmSuite } from '@aws-crypto/material-management-node';
import { deserializeFactory } from '@aws-crypto/serialize';
import type { KmsApi } from '../aws/kms.js';

type KMS = KmsApi['client'];
// The Encryption SDK types its client against its own copy of the SDK's KMS shape; under
// exactOptionalPropertyTypes the two no longer unify, though the client is the one it documents.
type EsdkClient = ConstructorParameters<typeof AwsKmsMrkAwareSymmetricKeyringNode>[0]['client'];
const esdkClient = (client: KMS): EsdkClient => client as unknown as EsdkClient;
import { AgentkeysError, InternalError, UsageError } from '../errors.js';
import { openAtomicFile } from '../sys/fs.js';
import { messageOf, nameOf } from '../sys/operator-file.js';

export type EncryptionContext = Record<string, string>;

export interface DataKeyCacheOptions {
  /** Default 1 hour (a key manager's dataKeyCacheTTL of 3600000 ms). */
  maxAgeMs: number;
  maxMessagesEncrypted: number;
  maxBytesEncrypted: number;
}

export const DEFAULT_CACHE: DataKeyCacheOptions = {
  maxAgeMs: 3_600_000,
  maxMessagesEncrypted: 1000,
  maxBytesEncrypted: 1 << 30,
};
// 1 MiB frames: each is authenticated on its own, so memory stays at a few MiB whatever the size,
// and per-frame costs (key derivation, cipher set-up) stay small next to the AES work.
const FRAME_LENGTH = 1024 * 1024;

// At most 10 encrypted data keys per message: an attacker-supplied message cannot make us call KMS without bound.
const esdk = buildClient({
  commitmentPolicy: CommitmentPolicy.REQUIRE_ENCRYPT_REQUIRE_DECRYPT,
  maxEncryptedDataKeys: 10,
});

/** The accounts (and partition) whose keys a discovery decryption may use: the Encryption CLI's filter. */
export interface DiscoveryFilter {
  accountIDs: string[];
  partition: string;
}

export interface CacheStats {
  hits: number;
  misses: number;
}

/**
 * Envelope encryption in the AWS Encryption SDK message format: a fresh data key per message from
 * GenerateDataKey (or a cached one), AES-256-GCM with key commitment, framed (1 MiB authenticated
 * frames, so files of any size stream in constant memory), a versioned self-describing header,
 * and an ECDSA P-384 signature over the message. Any Encryption SDK language can decrypt it.
 */
export class EnvelopeCrypto {
  readonly stats: CacheStats = { hits: 0, misses: 0 };
  private readonly keys: readonly string[];
  private wrapping: KeyringNode | undefined;
  private unwrapping: KeyringNode | undefined;
  private cmm: NodeCachingMaterialsManager | undefined;

  /**
   * keys: the keys to wrap under (the first generates the data key; each other one wraps it too:
   * another region's key, another account's) and the only ones to unwrap with, tried in order,
   * each in its own region, multi-region keys matched across regions (the Encryption SDK's
   * MRK-aware keyrings): a replica decrypts what its primary wrapped when the primary's region is
   * down. Without keys, decryption discovers the key from the message, but only among the
   * accounts of `discovery` (never any key in any account, which an attacker's message would name).
   * `clientFor`: a KMS client for a key's region (default: `kms`'s own, for every key).
   */
  constructor(
    private readonly kms: KmsApi,
    keys: string | readonly string[] | undefined,
    private readonly cache: DataKeyCacheOptions | false,
    private readonly partition = 'agentkeys',
    private readonly discovery?: DiscoveryFilter,
    private readonly clientFor: (region: string) => KMS | undefined = () => kms.client,
  ) {
    this.keys = keys === undefined ? [] : typeof keys === 'string' ? [keys] : keys;
    if (this.keys.length === 0 && !discovery)
      throw new InternalError({ code: 'INTERNAL', message: 'decryption needs a key or a discovery filter' });
  }

  private client(keyId: string): KMS {
    const client = this.clientFor(regionOfKeyArn(keyId) ?? this.kms.region);
    if (!client) throw new InternalError({ code: 'INTERNAL', message: `no KMS client for ${keyId}` });
    return client;
  }

  /** Encryption: every key wraps the data key; two keys of one multi-region key would be one key twice. */
  private encryptionKeyring(): KeyringNode {
    if (this.keys.length === 0)
      throw new InternalError({ code: 'INTERNAL', message: 'encryption needs at least one key' });
    const related = relatedMultiRegionKeys(this.keys);
    if (related)
      throw new UsageError({
        code: 'FLAG_CONFLICT',
        message: `${related.join(' and ')} are the same multi-region key: wrapping under both adds nothing`,
        hint: 'give one of them to encrypt; every replica of it decrypts',
      });
    this.wrapping ??= buildAwsKmsMrkAwareStrictMultiKeyringNode({
      generatorKeyId: this.keys[0]!,
      keyIds: this.keys.slice(1),
      clientProvider: (region: string) => {
        const client = this.clientFor(region || this.kms.region);
        return client ? esdkClient(client) : false;
      },
    });
    return this.wrapping;
  }

  /** Decryption: each key in order, in its own region; a failure (an outage) passes to the next. */
  private decryptionKeyring(): KeyringNode {
    this.unwrapping ??=
      this.keys.length > 0
        ? new MultiKeyringNode({
            children: this.keys.map(
              (keyId) => new AwsKmsMrkAwareSymmetricKeyringNode({ client: esdkClient(this.client(keyId)), keyId }),
            ),
          })
        : new KmsKeyringNode({
            discovery: true,
            discoveryFilter: { accountIDs: this.discovery!.accountIDs, partition: this.discovery!.partition },
            clientProvider: () => esdkClient(this.kms.client),
          });
    return this.unwrapping;
  }

  private materials(): KeyringNode | NodeCachingMaterialsManager {
    const keyring = this.encryptionKeyring();
    if (this.cache === false) return keyring;
    this.cmm ??= new NodeCachingMaterialsManager({
      backingMaterials: keyring,
      cache: this.countingCache(),
      maxAge: this.cache.maxAgeMs,
      maxMessagesEncrypted: this.cache.maxMessagesEncrypted,
      maxBytesEncrypted: this.cache.maxBytesEncrypted,
      // The context is part of the cache key as well, so each context gets its own data keys.
      partition: this.partition,
    });
    return this.cmm;
  }

  async encryptStream(
    input: Readable,
    output: Writable,
    context: EncryptionContext,
    plaintextLength?: number,
  ): Promise<void> {
    const stream = esdk.encryptStream(this.materials(), {
      encryptionContext: context,
      frameLength: FRAME_LENGTH,
      ...(plaintextLength !== undefined ? { plaintextLength } : {}),
    });
    await pipeline(input, frameAligned(FRAME_LENGTH), stream, output);
  }

  /** Decrypts, refusing to release anything unless the message carries exactly the expected context. */
  async decryptStream(input: Readable, output: Writable, expected: EncryptionContext): Promise<void> {
    const prefix = new HeaderPrefix();
    const stream = esdk.decryptStream(this.decryptionKeyring());
    let headerChecked = false;
    stream.once('MessageHeader', (header: { encryptionContext: EncryptionContext }) => {
      try {
        assertContext(header.encryptionContext, expected);
        headerChecked = true;
      } catch (err) {
        stream.destroy(err as Error);
      }
    });
    try {
      await pipeline(input, prefix, stream, output);
    } catch (err) {
      throw explainDecryptFailure(err, prefix.bytes(), this.keys);
    }
    if (!headerChecked)
      throw new AgentkeysError({ code: 'CIPHERTEXT_TAMPERED', message: 'the message header was never authenticated' });
  }

  private countingCache(): ReturnType<typeof getLocalCryptographicMaterialsCache> {
    const cache = getLocalCryptographicMaterialsCache(1000);
    const get = cache.getEncryptionMaterial.bind(cache);
    cache.getEncryptionMaterial = (key: string, plaintextLength: number) => {
      const entry = get(key, plaintextLength);
      if (entry) this.stats.hits++;
      else this.stats.misses++;
      return entry;
    };
    return cache;
  }
}

/**
 * Re-chunks input into frame-sized pieces. @aws-crypto/encrypt-node 5.0.2 counts a chunk that
 * straddles a frame boundary twice against plaintextLength ("Encrypted data exceeded
 * plaintextLength"); aligned chunks never straddle.
 */
function frameAligned(frameLength: number): Transform {
  let pending: Buffer[] = [];
  let size = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      pending.push(chunk);
      size += chunk.length;
      if (size >= frameLength) {
        const all = pending.length === 1 ? pending[0]! : Buffer.concat(pending);
        let offset = 0;
        for (; offset + frameLength <= all.length; offset += frameLength)
          this.push(all.subarray(offset, offset + frameLength));
        pending = offset < all.length ? [all.subarray(offset)] : [];
        size = all.length - offset;
      }
      done();
    },
    flush(done) {
      if (size > 0) this.push(Buffer.concat(pending));
      done();
    },
  });
}

/** Every expected pair must be there and equal, and nothing else but the SDK's own reserved keys. */
export function assertContext(actual: EncryptionContext, expected: EncryptionContext): void {
  const problems: string[] = [];
  for (const [k, v] of Object.entries(expected)) {
    if (!(k in actual)) problems.push(`missing ${k}`);
    else if (actual[k] !== v) problems.push(`${k} differs`);
  }
  for (const k of Object.keys(actual)) {
    if (!(k in expected) && !k.startsWith('aws-crypto-')) problems.push(`unexpected ${k}`);
  }
  if (problems.length > 0) {
    throw new UsageError({
      code: 'CONTEXT_MISMATCH',
      message: `the encryption context does not match: ${problems.join(', ')}`,
      hint: 'pass the same --context k=v pairs that were used to encrypt; nothing was decrypted',
    });
  }
}

/** Keeps the first bytes that pass (the message header), to explain a failure afterwards. */
class HeaderPrefix extends Transform {
  private readonly kept: Buffer[] = [];
  private size = 0;

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    if (this.size < HEADER_PREFIX_BYTES) {
      this.kept.push(chunk.subarray(0, HEADER_PREFIX_BYTES - this.size));
      this.size += Math.min(chunk.length, HEADER_PREFIX_BYTES - this.size);
    }
    this.push(chunk);
    done();
  }

  bytes(): Buffer {
    return Buffer.concat(this.kept);
  }
}

const HEADER_PREFIX_BYTES = 64 * 1024;
const deserialize = deserializeFactory(
  (b) => Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('utf8'),
  NodeAlgorithmSuite,
);

/**
 * Says why a message did not decrypt, most specific first: a sentinel JSON envelope given to the
 * Encryption SDK path, a message wrapped for other keys than --key (with their ARNs), a context
 * mismatch; only what is left is tampering.
 */
function explainDecryptFailure(err: unknown, prefix: Buffer, keys: readonly string[]): AgentkeysError {
  if (err instanceof AgentkeysError) return err;
  if (prefix[0] === 0x7b /* { */ && /"encryptedDataKey"/.test(prefix.toString('utf8'))) {
    return new UsageError({
      code: 'CIPHERTEXT_FORMAT_MISMATCH',
      message: 'the input is a sentinel JSON envelope, not an Encryption SDK message',
      hint: 'decrypt it with --format sentinel',
      cause: err,
    });
  }
  const wrappedFor = keys.length > 0 ? wrappedKeyArns(prefix) : undefined;
  if (wrappedFor && !keys.some((k) => wrappedFor.some((w) => sameKmsKey(k, w)))) {
    return new AgentkeysError({
      code: 'KEY_NOT_USED_FOR_MESSAGE',
      message:
        `the message was not encrypted under ${keys.join(' or ')}: its data key is wrapped ` +
        `for ${wrappedFor.join(', ') || 'no KMS key'}`,
      hint: 'decrypt with one of those keys (--key kms:<arn>), or drop --key to let KMS pick',
      cause: err,
    });
  }
  return classifyDecryptError(err);
}

/** The KMS key ARNs a message's data key is wrapped for, from its header; undefined if unreadable. */
export function wrappedKeyArns(prefix: Uint8Array): string[] | undefined {
  try {
    const header = deserialize.deserializeMessageHeader(prefix, { maxEncryptedDataKeys: 10 });
    if (!header) return undefined;
    return header.messageHeader.encryptedDataKeys.filter((k) => k.providerId === 'aws-kms').map((k) => k.providerInfo);
  } catch {
    return undefined;
  }
}

function classifyDecryptError(err: unknown): AgentkeysError {
  if (err instanceof AgentkeysError) return err;
  const message = messageOf(err) ?? String(err);
  const name = nameOf(err) ?? '';
  // The Encryption SDK wraps each KMS failure into its own message: a denial is not tampering.
  if (/AccessDenied/.test(name) || /AccessDenied/.test(message))
    return new AgentkeysError({
      code: 'KMS_ACCESS_DENIED',
      message: `KMS refused to decrypt the data key: ${message.split('\n')[0]!.slice(0, 300)}`,
      hint: 'the caller needs kms:Decrypt on the key the message names (agentkeys doctor checks the grants)',
      cause: err,
    });
  // No keyring could unwrap the data key: KMS failed (an outage, a throttle, a disabled key). A
  // modified wrapped key is KMS's InvalidCiphertextException, which is tampering, said below.
  if (
    /KMS CMKs had an error|KMS key.*had an error|Unable to decrypt data key/i.test(message) &&
    !/InvalidCiphertext/.test(message)
  )
    return new AgentkeysError({
      code: 'KMS_DECRYPT_FAILED',
      message: `KMS could not decrypt the data key: ${message.split('\n')[0]!.slice(0, 300)}`,
      cause: err,
    });
  if (name.endsWith('Exception') && !/InvalidCiphertext/.test(name)) {
    return new AgentkeysError({
      code: 'KMS_DECRYPT_FAILED',
      message: `KMS could not decrypt the data key: ${name}: ${message}`,
      cause: err,
    });
  }
  return new AgentkeysError({
    code: 'CIPHERTEXT_TAMPERED',
    message: `the ciphertext does not authenticate: ${message}`,
    hint: 'the file was modified, truncated or is not an agentkeys/Encryption SDK message; nothing was written',
    cause: err,
  });
}

/** The envelope names its key: it must be --key's, or one of the discovery accounts'. */
function assertSentinelTrusted(
  envelope: SentinelEnvelope,
  trust: { keyArn?: string; discovery?: DiscoveryFilter },
): void {
  if (trust.keyArn) {
    if (envelope.keyId !== trust.keyArn)
      throw new AgentkeysError({
        code: 'KEY_NOT_USED_FOR_MESSAGE',
        message: `the envelope was not encrypted under ${trust.keyArn}: it names ${envelope.keyId}`,
        hint: 'decrypt with the key it names (--key kms:<arn>) if you trust it',
      });
    return;
  }
  const arn = /^arn:([^:]+):kms:[^:]*:(\d{12}):key\//.exec(envelope.keyId);
  if (!trust.discovery || !arn || arn[1] !== trust.discovery.partition || !trust.discovery.accountIDs.includes(arn[2]!))
    throw new AgentkeysError({
      code: 'KEY_NOT_USED_FOR_MESSAGE',
      message: `the envelope names ${envelope.keyId}, which is no key of the --discovery-account accounts`,
      hint: 'decrypt with --key kms:<arn> of a key you trust, or add its account with --discovery-account',
    });
}

export function parseContext(pairs: readonly string[]): EncryptionContext {
  const out: EncryptionContext = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0)
      throw new UsageError({
        code: 'CONTEXT_INVALID',
        message: `--context "${pair}" is not k=v`,
        hint: '--context tenant=acme --context purpose=backup',
      });
    const key = pair.slice(0, eq);
    if (key.startsWith('aws'))
      throw new UsageError({ code: 'CONTEXT_INVALID', message: `--context key "${key}" is reserved (aws prefix)` });
    if (key in out) throw new UsageError({ code: 'CONTEXT_INVALID', message: `--context key "${key}" is given twice` });
    out[key] = pair.slice(eq + 1);
  }
  return out;
}

/**
 * The seed's JSON envelope (Aureus Sentinel KMS Manager): {encrypted, encryptedDataKey, iv,
 * authTag, keyId}, all base64 but keyId. One AES-256-GCM message with a 12-byte IV, the data key
 * bound to the context by KMS. Whole-message, so for small payloads only.
 */
export interface SentinelEnvelope {
  encrypted: string;
  encryptedDataKey: string;
  iv: string;
  authTag: string;
  keyId: string;
}

export const SENTINEL_MAX_BYTES = 64 * 1024 * 1024;

export async function sentinelEncrypt(
  kms: KmsApi,
  keyId: string,
  plaintext: Buffer,
  context: EncryptionContext,
): Promise<SentinelEnvelope> {
  const key = await kms.generateDataKey({ KeyId: keyId, KeySpec: 'AES_256', EncryptionContext: context });
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', key.plaintext, iv);
  const encrypted = Buffer.concat([cipher.update(plaintext), cipher.final()]);
  Buffer.from(key.plaintext).fill(0);
  return {
    encrypted: encrypted.toString('base64'),
    encryptedDataKey: Buffer.from(key.ciphertext).toString('base64'),
    iv: iv.toString('base64'),
    authTag: cipher.getAuthTag().toString('base64'),
    keyId: key.keyId,
  };
}

export async function sentinelDecrypt(
  kms: KmsApi,
  envelope: SentinelEnvelope,
  context: EncryptionContext,
  trust: { keyArn?: string; discovery?: DiscoveryFilter } = {},
): Promise<Buffer> {
  assertSentinelTrusted(envelope, trust);
  // GCM accepts tags down to 4 bytes, and a short tag is forged in 2^32 tries; ours are 16.
  if (Buffer.from(envelope.authTag, 'base64').length !== 16)
    throw new AgentkeysError({
      code: 'CIPHERTEXT_TAMPERED',
      message: `the envelope's authTag is ${Buffer.from(envelope.authTag, 'base64').length} bytes, not 16`,
      hint: 'a shortened tag is forgeable: the envelope was modified',
    });
  let dataKey: Uint8Array;
  try {
    dataKey = (
      await kms.decrypt({
        CiphertextBlob: Buffer.from(envelope.encryptedDataKey, 'base64'),
        KeyId: envelope.keyId,
        EncryptionContext: context,
      })
    ).plaintext;
  } catch (err) {
    // KMS binds the context to the data key: a wrong context and a modified key blob look the same to it.
    if ((err as { cause?: { name?: string } }).cause?.name === 'InvalidCiphertextException') {
      throw new UsageError({
        code: 'CONTEXT_MISMATCH',
        message: 'KMS refused the data key: the encryption context does not match (or encryptedDataKey was modified)',
        hint: 'pass the same --context pairs used to encrypt',
        cause: err,
      });
    }
    throw err;
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', dataKey, Buffer.from(envelope.iv, 'base64'));
    decipher.setAuthTag(Buffer.from(envelope.authTag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(envelope.encrypted, 'base64')), decipher.final()]);
  } catch (err) {
    throw new AgentkeysError({
      code: 'CIPHERTEXT_TAMPERED',
      message: 'the envelope does not authenticate (encrypted, iv or authTag was modified)',
      cause: err,
    });
  } finally {
    Buffer.from(dataKey).fill(0);
  }
}

/** Untrusted input: a sentinel envelope with exactly its five string fields. */
export function parseSentinelEnvelope(text: string): SentinelEnvelope {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    throw new UsageError({
      code: 'ENVELOPE_INVALID',
      message: 'the input is not a JSON envelope',
      hint: 'drop --format sentinel for Encryption SDK messages',
    });
  }
  const fields = ['encrypted', 'encryptedDataKey', 'iv', 'authTag', 'keyId'];
  const bad = fields.filter((f) => typeof v[f] !== 'string');
  const extra = Object.keys(v ?? {}).filter((k) => !fields.includes(k));
  if (bad.length || extra.length || Buffer.from(v.iv as string, 'base64').length !== 12) {
    throw new UsageError({
      code: 'ENVELOPE_INVALID',
      message:
        'not a sentinel envelope' +
        (bad.length ? `: missing ${bad.join(', ')}` : '') +
        (extra.length ? `: unknown ${extra.join(', ')}` : ''),
      hint: '{encrypted, encryptedDataKey, iv (12 bytes), authTag, keyId}',
    });
  }
  return v as unknown as SentinelEnvelope;
}

/** Writes through sys/fs openAtomicFile: the destination appears only after fn succeeded. */
export async function withAtomicOutput(
  dest: string,
  mode: number,
  fn: (out: Writable) => Promise<void>,
): Promise<void> {
  const out = await openAtomicFile(dest, mode);
  try {
    await fn(out.stream);
  } catch (err) {
    await out.abort();
    throw err;
  }
  await out.commit();
}

const KEY_ARN = /^arn:([a-z-]+):kms:([a-z0-9-]+):(\d{12}):key\/(.+)$/;

/** The region of a key ARN; undefined for a key ID or an alias (the default region's). */
export function regionOfKeyArn(keyId: string): string | undefined {
  return KEY_ARN.exec(keyId)?.[2];
}

/**
 * One key, or two keys of one multi-region key (mrk-…, same partition and account, any region):
 * KMS decrypts with either what the other wrapped.
 */
export function sameKmsKey(a: string, b: string): boolean {
  if (a === b) return true;
  const x = KEY_ARN.exec(a);
  const y = KEY_ARN.exec(b);
  return !!x && !!y && x[4]!.startsWith('mrk-') && x[1] === y[1] && x[3] === y[3] && x[4] === y[4];
}

function relatedMultiRegionKeys(keys: readonly string[]): [string, string] | undefined {
  for (let i = 0; i < keys.length; i++)
    for (let j = i + 1; j < keys.length; j++) if (sameKmsKey(keys[i]!, keys[j]!)) return [keys[i]!, keys[j]!];
  return undefined;
}
