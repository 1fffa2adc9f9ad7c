import {
  CreateAliasCommand,
  CreateKeyCommand,
  DecryptCommand,
  DescribeKeyCommand,
  EnableKeyRotationCommand,
  GetKeyRotationStatusCommand,
  GenerateDataKeyCommand,
  GenerateMacCommand,
  GetPublicKeyCommand,
  KMS,
  ListAliasesCommand,
  ListResourceTagsCommand,
  ReplicateKeyCommand,
  SignCommand,
  TagResourceCommand,
  UpdateAliasCommand,
  VerifyCommand,
  VerifyMacCommand,
  type CreateKeyCommandInput,
  type DecryptCommandInput,
  type GenerateDataKeyCommandInput,
  type KeyMetadata,
  type SignCommandInput,
  type VerifyCommandInput,
} from '@aws-sdk/client-kms';
import { credentialProvider, type AwsAuthOptions } from './credentials.js';

// The SDK's KMS types the key-lifecycle code in src/signing uses, so it needs no SDK import of its own.
export type { KeyMetadata, KeySpec, KeyUsageType, SigningAlgorithmSpec } from '@aws-sdk/client-kms';
import { createCaller, observeCalls, type AwsCallObservation } from './call.js';
import { DEFAULT_REGION } from './region.js';
import { nameOf } from '../sys/operator-file.js';

export { DEFAULT_REGION };

/** The KMS calls agentkeys makes, and nothing else (style.md: narrow AWS interfaces). */
export interface KmsApi {
  describeKey(keyId: string): Promise<KeyMetadata>;
  /** DER SPKI. */
  getPublicKey(keyId: string): Promise<Uint8Array>;
  sign(input: SignCommandInput): Promise<Uint8Array>;
  verify(input: VerifyCommandInput): Promise<boolean>;
  generateMac(keyId: string, message: Uint8Array): Promise<Uint8Array>;
  verifyMac(keyId: string, message: Uint8Array, mac: Uint8Array): Promise<boolean>;
  createKey(input: CreateKeyCommandInput): Promise<KeyMetadata>;
  createAlias(alias: string, keyId: string): Promise<void>;
  updateAlias(alias: string, keyId: string): Promise<void>;
  /** Aliases pointing at a key (all pages). */
  listAliases(keyId?: string): Promise<{ AliasName: string; TargetKeyId?: string }[]>;
  listResourceTags(keyId: string): Promise<Record<string, string>>;
  tagResource(keyId: string, tags: Record<string, string>): Promise<void>;
  replicateKey(keyId: string, region: string): Promise<KeyMetadata>;
  /** KMS-native rotation of a symmetric key (AWS refuses it for asymmetric and HMAC keys). */
  getKeyRotationStatus(keyId: string): Promise<KeyRotationStatus>;
  enableKeyRotation(keyId: string, periodDays: number): Promise<void>;
  generateDataKey(
    input: GenerateDataKeyCommandInput,
  ): Promise<{ plaintext: Uint8Array; ciphertext: Uint8Array; keyId: string }>;
  decrypt(input: DecryptCommandInput): Promise<{ plaintext: Uint8Array; keyId: string }>;
  /** The SDK client, for libraries that need one (the AWS Encryption SDK keyring). */
  readonly client: KMS;
  readonly region: string;
}

export interface KeyRotationStatus {
  enabled: boolean;
  /** Absent when KMS does not say (moto never echoes RotationPeriodInDays). */
  periodDays?: number;
  nextRotation?: string;
}

export interface KmsFactoryOptions extends AwsAuthOptions {
  /** Sees every request at the SDK middleware, including the Encryption SDK's (call counts, audit trail). */
  onCall?: (call: AwsCallObservation) => void;
  /** Attempts per request, retries included (SDK default 3); the SDK backs off between them. */
  maxAttempts?: number;
}

// KMS (the aggregated client) is a KMSClient with methods; the Encryption SDK keyring needs those.
export function createKmsClient(opts: KmsFactoryOptions, region = opts.region): KMS {
  const client = new KMS({
    region: region ?? DEFAULT_REGION,
    credentials: credentialProvider(opts),
    ...((opts.kmsEndpoint ?? opts.endpoint) ? { endpoint: opts.kmsEndpoint ?? opts.endpoint } : {}),
    ...(opts.maxAttempts ? { maxAttempts: opts.maxAttempts } : {}),
  });
  return observeCalls(client, 'kms', opts.onCall);
}

export function createKmsApi(opts: KmsFactoryOptions): KmsApi {
  const client = createKmsClient(opts);
  const { call } = createCaller();
  return {
    client,
    region: opts.region ?? DEFAULT_REGION,
    describeKey: (keyId) =>
      call(
        'kms:DescribeKey',
        keyId,
        async () => (await client.send(new DescribeKeyCommand({ KeyId: keyId }))).KeyMetadata!,
      ),
    getPublicKey: (keyId) =>
      call(
        'kms:GetPublicKey',
        keyId,
        async () => (await client.send(new GetPublicKeyCommand({ KeyId: keyId }))).PublicKey!,
      ),
    sign: (input) => call('kms:Sign', input.KeyId, async () => (await client.send(new SignCommand(input))).Signature!),
    verify: (input) =>
      call('kms:Verify', input.KeyId, async () => {
        try {
          return (await client.send(new VerifyCommand(input))).SignatureValid === true;
        } catch (err) {
          // AWS throws for a bad signature; moto 5.2.1 unpatched answers SignatureValid:false. Both mean invalid.
          if (nameOf(err) === 'KMSInvalidSignatureException') return false;
          throw err;
        }
      }),
    generateMac: (keyId, message) =>
      call(
        'kms:GenerateMac',
        keyId,
        async () =>
          (await client.send(new GenerateMacCommand({ KeyId: keyId, Message: message, MacAlgorithm: 'HMAC_SHA_256' })))
            .Mac!,
      ),
    verifyMac: (keyId, message, mac) =>
      call('kms:VerifyMac', keyId, async () => {
        try {
          return (
            (
              await client.send(
                new VerifyMacCommand({ KeyId: keyId, Message: message, Mac: mac, MacAlgorithm: 'HMAC_SHA_256' }),
              )
            ).MacValid === true
          );
        } catch (err) {
          if (nameOf(err) === 'KMSInvalidMacException') return false;
          throw err;
        }
      }),
    createKey: (input) =>
      call('kms:CreateKey', undefined, async () => (await client.send(new CreateKeyCommand(input))).KeyMetadata!),
    createAlias: (alias, keyId) =>
      call(
        'kms:CreateAlias',
        alias,
        async () => void (await client.send(new CreateAliasCommand({ AliasName: alias, TargetKeyId: keyId }))),
      ),
    updateAlias: (alias, keyId) =>
      call(
        'kms:UpdateAlias',
        alias,
        async () => void (await client.send(new UpdateAliasCommand({ AliasName: alias, TargetKeyId: keyId }))),
      ),
    listAliases: (keyId) =>
      call('kms:ListAliases', keyId, async () => {
        const out: { AliasName: string; TargetKeyId?: string }[] = [];
        let marker: string | undefined;
        do {
          const page = await client.send(
            new ListAliasesCommand({ ...(keyId ? { KeyId: keyId } : {}), ...(marker ? { Marker: marker } : {}) }),
          );
          for (const a of page.Aliases ?? [])
            if (a.AliasName)
              out.push({ AliasName: a.AliasName, ...(a.TargetKeyId ? { TargetKeyId: a.TargetKeyId } : {}) });
          marker = page.Truncated ? page.NextMarker : undefined;
        } while (marker);
        return out;
      }),
    listResourceTags: (keyId) =>
      call('kms:ListResourceTags', keyId, async () => {
        const tags: Record<string, string> = {};
        let marker: string | undefined;
        do {
          const page = await client.send(
            new ListResourceTagsCommand({ KeyId: keyId, ...(marker ? { Marker: marker } : {}) }),
          );
          for (const t of page.Tags ?? []) if (t.TagKey) tags[t.TagKey] = t.TagValue ?? '';
          marker = page.Truncated ? page.NextMarker : undefined;
        } while (marker);
        return tags;
      }),
    tagResource: (keyId, tags) =>
      call(
        'kms:TagResource',
        keyId,
        async () =>
          void (await client.send(
            new TagResourceCommand({
              KeyId: keyId,
              Tags: Object.entries(tags).map(([TagKey, TagValue]) => ({ TagKey, TagValue })),
            }),
          )),
      ),
    getKeyRotationStatus: (keyId) =>
      call('kms:GetKeyRotationStatus', keyId, async () => {
        const out = await client.send(new GetKeyRotationStatusCommand({ KeyId: keyId }));
        return {
          enabled: out.KeyRotationEnabled === true,
          ...(out.RotationPeriodInDays ? { periodDays: out.RotationPeriodInDays } : {}),
          ...(out.NextRotationDate ? { nextRotation: new Date(out.NextRotationDate).toISOString() } : {}),
        };
      }),
    enableKeyRotation: (keyId, periodDays) =>
      call(
        'kms:EnableKeyRotation',
        keyId,
        async () =>
          void (await client.send(new EnableKeyRotationCommand({ KeyId: keyId, RotationPeriodInDays: periodDays }))),
      ),
    replicateKey: (keyId, region) =>
      call(
        'kms:ReplicateKey',
        keyId,
        async () =>
          (await client.send(new ReplicateKeyCommand({ KeyId: keyId, ReplicaRegion: region }))).ReplicaKeyMetadata!,
      ),
    generateDataKey: (input) =>
      call('kms:GenerateDataKey', input.KeyId, async () => {
        const out = await client.send(new GenerateDataKeyCommand(input));
        return { plaintext: out.Plaintext!, ciphertext: out.CiphertextBlob!, keyId: out.KeyId! };
      }),
    decrypt: (input) =>
      call('kms:Decrypt', input.KeyId, async () => {
        const out = await client.send(new DecryptCommand(input));
        return { plaintext: out.Plaintext!, keyId: out.KeyId! };
      }),
  };
}
