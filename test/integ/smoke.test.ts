import { describe, expect, it } from 'vitest';
import { createKmsApi } from '../../src/aws/kms.js';
import { KmsSigner } from '../../src/aws/kms-signer.js';
import { digestRow } from '../../src/audit/record.js';
import { EnvelopeCrypto } from '../../src/crypto/envelope.js';
import { useMoto } from '../helpers/moto.js';
import { Readable, PassThrough } from 'node:stream';

const moto = useMoto();
describe('smoke', () => {
  it('signs', async () => {
    const kms = createKmsApi({ region: 'us-east-1' });
    for (const spec of ['RSA_2048', 'ECC_NIST_P256', 'ECC_SECG_P256K1']) {
      const k = await kms.createKey({ KeySpec: spec as never, KeyUsage: 'SIGN_VERIFY' });
      const s = await KmsSigner.open(kms, k.KeyId!);
      const signed = digestRow({ a: 1 }, null);
      const sig = await s.sign(signed.digest);
      expect(await s.verifyOwn(signed, sig)).toBe(true);
    }
    const h = await kms.createKey({ KeySpec: 'HMAC_256', KeyUsage: 'GENERATE_VERIFY_MAC' });
    const hs = await KmsSigner.open(kms, h.KeyId!);
    const signed = digestRow({ a: 1 }, null);
    expect(await hs.verifyOwn(signed, await hs.sign(signed.digest))).toBe(true);
    const sym = await kms.createKey({});
    const env = new EnvelopeCrypto(kms, sym.Arn!, { maxAgeMs: 1000, maxMessagesEncrypted: 10, maxBytesEncrypted: 1e9 });
    const out = new PassThrough(); const chunks: Buffer[] = []; out.on('data', (c) => chunks.push(c));
    await env.encryptStream(Readable.from([Buffer.from('hello')]), out, { t: 'x' }, 5);
    const ct = Buffer.concat(chunks);
    const out2 = new PassThrough(); const c2: Buffer[] = []; out2.on('data', (c) => c2.push(c));
    await env.decryptStream(Readable.from([ct]), out2, { t: 'x' });
    expect(Buffer.concat(c2).toString()).toBe('hello');
    void moto;
  });
});
