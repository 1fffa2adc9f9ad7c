// aws-sdk-client-mock is used here only where moto cannot answer: moto 5.2.1 has no Ed25519 KMS
// keys (ECC_NIST_EDWARDS25519 is rejected at CreateKey), and moto does not model IAM
// authorization, so AccessDenied never happens there (aws-and-moto.md §1).
import { generateKeyPairSync, sign as cryptoSign } from 'node:crypto';
import { DescribeKeyCommand, GetPublicKeyCommand, KMSClient, SignCommand } from '@aws-sdk/client-kms';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, describe, expect, it } from 'vitest';
import { createKmsApi } from '../../../src/aws/kms.js';
import { KmsSigner } from '../../../src/signing/kms-signer.js';
import { digestRow } from '../../../src/audit/record.js';
import { signAndCheck } from '../../../src/signing/signer.js';
import { verifySignature } from '../../../src/signing/verify.js';

const kmsMock = mockClient(KMSClient);
afterEach(() => kmsMock.reset());

const ARN = 'arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab';

describe('KMS Sign request shape', () => {
  it('Ed25519: pure Ed25519 over the 32 digest bytes, MessageType RAW, ED25519_SHA_512 (never the PH variant)', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    kmsMock.on(DescribeKeyCommand).resolves({
      KeyMetadata: {
        KeyId: 'k',
        Arn: ARN,
        KeySpec: 'ECC_NIST_EDWARDS25519' as never,
        KeyUsage: 'SIGN_VERIFY',
        KeyState: 'Enabled',
      },
    });
    kmsMock.on(GetPublicKeyCommand).resolves({ PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    kmsMock.on(SignCommand).callsFake((input: { Message: Uint8Array }) => ({
      Signature: cryptoSign(null, Buffer.from(input.Message), privateKey),
    }));
    const signer = await KmsSigner.open(createKmsApi({ region: 'us-east-1' }), 'alias/audit');
    expect(signer).toMatchObject({ kid: ARN, alg: 'ed25519' });
    const signed = digestRow({ a: 1 }, null);
    const sig = await signAndCheck(signer, signed);
    const call = kmsMock.commandCalls(SignCommand)[0]!.args[0].input;
    expect(call).toMatchObject({ KeyId: ARN, MessageType: 'RAW', SigningAlgorithm: 'ED25519_SHA_512' });
    expect(Buffer.from(call.Message!)).toEqual(signed.digest);
    expect(verifySignature({ alg: 'ed25519', publicKey }, signed, sig)).toBe(true);
  });

  it('RSA: RSASSA_PKCS1_V1_5_SHA_256 with MessageType DIGEST over the 32 bytes, by ARN', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    kmsMock.on(DescribeKeyCommand).resolves({
      KeyMetadata: { KeyId: 'k', Arn: ARN, KeySpec: 'RSA_2048', KeyUsage: 'SIGN_VERIFY', KeyState: 'Enabled' },
    });
    kmsMock.on(GetPublicKeyCommand).resolves({ PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    const signed = digestRow({ a: 1 }, null);
    kmsMock.on(SignCommand).resolves({ Signature: cryptoSign('sha256', signed.message, privateKey) });
    const signer = await KmsSigner.open(createKmsApi({ region: 'us-east-1' }), 'alias/audit');
    await signAndCheck(signer, signed);
    expect(kmsMock.commandCalls(SignCommand)[0]!.args[0].input).toMatchObject({
      KeyId: ARN,
      MessageType: 'DIGEST',
      SigningAlgorithm: 'RSASSA_PKCS1_V1_5_SHA_256',
    });
  });

  it('a signature KMS returns that does not verify is never used (SIGNATURE_SELF_CHECK_FAILED)', async () => {
    const { publicKey } = generateKeyPairSync('ed25519');
    kmsMock.on(DescribeKeyCommand).resolves({
      KeyMetadata: {
        KeyId: 'k',
        Arn: ARN,
        KeySpec: 'ECC_NIST_EDWARDS25519' as never,
        KeyUsage: 'SIGN_VERIFY',
        KeyState: 'Enabled',
      },
    });
    kmsMock.on(GetPublicKeyCommand).resolves({ PublicKey: publicKey.export({ type: 'spki', format: 'der' }) });
    kmsMock.on(SignCommand).resolves({ Signature: Buffer.alloc(64, 1) });
    const signer = await KmsSigner.open(createKmsApi({ region: 'us-east-1' }), ARN);
    await expect(signAndCheck(signer, digestRow({}, null))).rejects.toMatchObject({
      code: 'SIGNATURE_SELF_CHECK_FAILED',
    });
  });

  it('access denied names the permission and the key (KMS_ACCESS_DENIED)', async () => {
    const denied = Object.assign(new Error('User is not authorized to perform: kms:Sign'), {
      name: 'AccessDeniedException',
      $metadata: {},
    });
    kmsMock.on(DescribeKeyCommand).resolves({
      KeyMetadata: { KeyId: 'k', Arn: ARN, KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY', KeyState: 'Enabled' },
    });
    kmsMock.on(GetPublicKeyCommand).resolves({
      PublicKey: generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({
        type: 'spki',
        format: 'der',
      }),
    });
    kmsMock.on(SignCommand).rejects(denied);
    const signer = await KmsSigner.open(createKmsApi({ region: 'us-east-1' }), ARN);
    const err = await signer.sign(digestRow({}, null).digest).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'KMS_ACCESS_DENIED' });
    expect((err as Error).message).toContain(`kms:Sign on ${ARN}`);
    expect((err as { hint: string }).hint).toContain(`grant kms:Sign on ${ARN}`);
  });

  it('a disabled or pending-deletion key is refused before signing', async () => {
    kmsMock.on(DescribeKeyCommand).resolves({
      KeyMetadata: {
        KeyId: 'k',
        Arn: ARN,
        KeySpec: 'ECC_NIST_P256',
        KeyUsage: 'SIGN_VERIFY',
        KeyState: 'PendingDeletion',
      },
    });
    await expect(KmsSigner.open(createKmsApi({ region: 'us-east-1' }), ARN)).rejects.toMatchObject({
      code: 'KMS_KEY_INVALID_STATE',
    });
  });
});
