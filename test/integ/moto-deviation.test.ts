// moto 5.2.1 WITHOUT the KMS patch: Sign with MessageType DIGEST hashes the digest a second time
// (aws-and-moto.md §2). This test expects that bug, so a moto upgrade that fixes or changes it is
// noticed; every other KMS test runs with the patch (test/helpers/moto-server.py).
import { createHash, createPublicKey, verify as cryptoVerify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createKmsApi } from '../../src/aws/kms.js';
import { KmsSigner } from '../../src/signing/kms-signer.js';
import { digestRow } from '../../src/audit/record.js';
import { signAndCheck } from '../../src/signing/signer.js';
import { useMoto } from '../helpers/moto.js';

useMoto({ patchKmsDigest: false });

describe('unpatched moto (deviation: DIGEST is hashed twice)', () => {
  it('signs SHA-256(digest), and agentkeys refuses to write such a signature', async () => {
    const api = createKmsApi({ region: 'us-east-1' });
    const key = await api.createKey({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    const signer = await KmsSigner.open(api, key.KeyId!);
    const signed = digestRow({ a: 1 }, null);
    const sig = await signer.sign(signed.digest);
    const pub = {
      key: createPublicKey({ key: Buffer.from(await api.getPublicKey(key.KeyId!)), format: 'der', type: 'spki' }),
      dsaEncoding: 'der' as const,
    };
    expect(cryptoVerify('sha256', signed.message, pub, sig)).toBe(false);
    expect(cryptoVerify('sha256', signed.digest, pub, sig)).toBe(true);
    expect(createHash('sha256').update(signed.message).digest()).toEqual(signed.digest);
    // The self-check that runs before every write catches exactly this kind of signer bug.
    await expect(signAndCheck(signer, signed)).rejects.toMatchObject({ code: 'SIGNATURE_SELF_CHECK_FAILED' });
  });
});
