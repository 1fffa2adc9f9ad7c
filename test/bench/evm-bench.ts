// npm run bench:evm (moto on loopback, with the KMS DIGEST patch): EVM signatures per second
// through KMS with the per-ARN address cache and without it (every signature then pays DescribeKey
// and GetPublicKey), and the local-key rate beside raw @noble/curves secp256k1 signing of the same
// hashes, all in one run so the ratios hold on a noisy machine.
import { generateKeyPairSync } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hashMessage, hexToBytes } from 'viem';
import { createKmsApi } from '../../src/aws/kms.js';
import { signMessageWith } from '../../src/evm/operations.js';
import { clearEvmAddressCache, KmsEvmSigner, LocalEvmSigner } from '../../src/evm/signer.js';
import { startMoto } from '../../src/sandbox/moto.js';

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true';
const moto = await startMoto();
Object.assign(process.env, moto.env);

async function timed(n: number, body: (i: number) => Promise<unknown> | unknown): Promise<number> {
  const t = process.hrtime.bigint();
  for (let i = 0; i < n; i++) await body(i);
  return n / (Number(process.hrtime.bigint() - t) / 1e9);
}

try {
  const calls = new Map<string, number>();
  const kms = createKmsApi({
    region: 'us-east-1',
    onCall: (c) => calls.set(c.operation, (calls.get(c.operation) ?? 0) + 1),
  });
  const arn = (await kms.createKey({ KeySpec: 'ECC_SECG_P256K1', KeyUsage: 'SIGN_VERIFY' })).Arn!;
  const n = 300;
  const perCall = () => {
    const total = [...calls.values()].reduce((a, b) => a + b, 0);
    calls.clear();
    return (total / n).toFixed(1);
  };

  const signer = await KmsEvmSigner.open(kms, arn);
  calls.clear();
  const cached = await timed(n, (i) => signMessageWith(signer, `m${i}`));
  const cachedCalls = perCall();
  const uncached = await timed(n, async (i) => {
    clearEvmAddressCache();
    await signMessageWith(await KmsEvmSigner.open(kms, arn), `m${i}`);
  });
  const uncachedCalls = perCall();

  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const local = new LocalEvmSigner(privateKey, 'bench');
  const scalar = Buffer.from(privateKey.export({ format: 'jwk' }).d!, 'base64url');
  const m = 3000;
  const hashes = Array.from({ length: m }, (_, i) => hashMessage(`m${i}`));
  const raw = await timed(m, (i) =>
    secp256k1.sign(hexToBytes(hashes[i]!), scalar, { prehash: false, format: 'recovered' }),
  );
  const ours = await timed(m, (i) => signMessageWith(local, `m${i}`));
  const raw2 = await timed(m, (i) =>
    secp256k1.sign(hexToBytes(hashes[i]!), scalar, { prehash: false, format: 'recovered' }),
  );

  console.log('EVM signing benchmark (moto on loopback; KMS Sign with MessageType DIGEST)');
  console.log(`  KMS, address cached         ${cached.toFixed(0)} sig/s   ${cachedCalls} KMS call(s) per signature`);
  console.log(
    `  KMS, no address cache       ${uncached.toFixed(0)} sig/s   ${uncachedCalls} KMS call(s) per signature   (cached/uncached = ${(cached / uncached).toFixed(2)})`,
  );
  console.log(
    `  local key, agentkeys        ${ours.toFixed(0)} sig/s   (EIP-191 hash, RFC 6979 sign, low-s, one recovery as the check)`,
  );
  console.log(
    `  raw @noble/curves sign      ${((raw + raw2) / 2).toFixed(0)} sig/s   (mean of a run before and after)`,
  );
  console.log(
    `  agentkeys / raw             ${(ours / ((raw + raw2) / 2)).toFixed(2)}   (the check: one public-key recovery costs about 2.5 signs)`,
  );
} finally {
  await moto.stop();
}
