// npm run bench:kms (against moto on loopback, with the KMS patch): KMS calls per 1,000 encrypts
// of small messages with the data-key cache on and off, and envelope throughput beside raw
// AES-256-GCM on the same bytes, measured in the same run.
import { createCipheriv, randomBytes } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { createKmsApi } from '../../src/aws/kms.js';
import { EnvelopeCrypto, DEFAULT_CACHE } from '../../src/crypto/envelope.js';
import { startMoto } from '../../src/sandbox/moto.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const moto = await startMoto();
Object.assign(process.env, moto.env);
try {
  const calls = new Map<string, number>();
  const kms = createKmsApi({
    region: 'us-east-1',
    onCall: (c) => calls.set(c.operation, (calls.get(c.operation) ?? 0) + 1),
  });
  const key = (await kms.createKey({})).Arn!;
  const sink = () => new Writable({ write: (_c, _e, cb) => cb() });
  const message = Buffer.from(JSON.stringify({ user: 'user-alice', creditCard: '4111-1111-1111-1111' }));

  async function encryptMany(cache: boolean, n: number): Promise<{ kmsCalls: number; ms: number }> {
    calls.clear();
    const crypto = new EnvelopeCrypto(kms, key, cache ? DEFAULT_CACHE : false);
    const t = process.hrtime.bigint();
    for (let i = 0; i < n; i++)
      await crypto.encryptStream(Readable.from([message]), sink(), { tenant: 'acme' }, message.length);
    return { kmsCalls: [...calls.values()].reduce((a, b) => a + b, 0), ms: Number(process.hrtime.bigint() - t) / 1e6 };
  }

  const cached = await encryptMany(true, 1000);
  const uncached = await encryptMany(false, 1000);

  const size = 128 * 1024 * 1024;
  const block = randomBytes(1 << 20);
  const blocks = () =>
    Readable.from(
      (function* () {
        for (let i = 0; i < size / block.length; i++) yield block;
      })(),
    );
  const envelopeCrypto = new EnvelopeCrypto(kms, key, false);
  let t = process.hrtime.bigint();
  await envelopeCrypto.encryptStream(blocks(), sink(), { run: 'bench' }, size);
  const envelopeMs = Number(process.hrtime.bigint() - t) / 1e6;
  t = process.hrtime.bigint();
  const cipher = createCipheriv('aes-256-gcm', randomBytes(32), randomBytes(12));
  for (let i = 0; i < size / block.length; i++) cipher.update(block);
  cipher.final();
  const rawMs = Number(process.hrtime.bigint() - t) / 1e6;

  const mbps = (ms: number) => (size / 2 ** 20 / (ms / 1000)).toFixed(0);
  console.log('KMS envelope benchmark (moto on loopback, AWS Encryption SDK format)');
  console.log(
    `  1,000 small encrypts, cache on    ${cached.kmsCalls} KMS call(s)   ${(1000 / (cached.ms / 1000)).toFixed(0)} msg/s`,
  );
  console.log(
    `  1,000 small encrypts, cache off   ${uncached.kmsCalls} KMS call(s)   ${(1000 / (uncached.ms / 1000)).toFixed(0)} msg/s`,
  );
  console.log(`  128 MiB stream, envelope          ${mbps(envelopeMs)} MiB/s`);
  console.log(
    `  128 MiB, raw AES-256-GCM          ${mbps(rawMs)} MiB/s   (envelope/raw = ${(rawMs / envelopeMs).toFixed(2)}: framing, key commitment and the ECDSA P-384 message signature)`,
  );
} finally {
  await moto.stop();
}
