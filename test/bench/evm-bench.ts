// npm run bench:evm (moto on loopback, with the KMS DIGEST patch): EVM signatures per second
// through KMS with the per-ARN address cache and without it (every signature then pays DescribeKey
// and GetPublicKey), and the local-key rate beside raw @noble/curves secp256k1 signing of the same
// hashes, all in one run so the ratios hold on a noisy machine.
import { generateKeyPairSync } from 'node:crypto';
import { secp256k1 } from '@noble/curves/secp256k1.js';
import { hashMessage, hexToBytes } from 'viem';
import { createKmsApi } from '../../src/aws/kms.js';
import { encodeFunctionData, type Hex } from 'viem';
import { ERC20_ABI, UNISWAP_V3_ABI } from '../../src/evm/calldata.js';
import { parseTransactionInput, signMessageWith, signTransactionWith } from '../../src/evm/operations.js';
import { decideTransaction, parsePolicy } from '../../src/evm/policy.js';
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

/**
 * Policy decisions per second with calldata decoding (an ERC-20 approve, and a Uniswap multicall
 * of a swap and an unwrap), beside signing the same transaction with the local key.
 */
async function printPolicyRates(local: LocalEvmSigner, raw: number, raw2: number): Promise<void> {
  const TOKEN = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
  const WETH = '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2';
  const ROUTER = '0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45';
  const SPENDER = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
  const policy = parsePolicy(
    {
      version: 1,
      chainIds: [1],
      contracts: [TOKEN, ROUTER],
      protocolPolicies: {
        erc20: { recipientAllowlist: [SPENDER], maxAllowanceWei: '1000000' },
        uniswap_v3: { tokenAllowlist: [TOKEN, WETH], maxAmountWei: '1000000', maxSlippageBps: 50 },
      },
    },
    'bench',
  );
  const tx = (to: string, data: Hex) =>
    parseTransactionInput(
      { chainId: 1, nonce: 0, to, data, gas: 200000, maxFeePerGas: 1e9, maxPriorityFeePerGas: 1 },
      'tx',
    );
  const approve = tx(TOKEN, encodeFunctionData({ abi: ERC20_ABI, functionName: 'approve', args: [SPENDER, 1000n] }));
  const swap = encodeFunctionData({
    abi: UNISWAP_V3_ABI,
    functionName: 'exactInputSingle',
    args: [
      {
        tokenIn: TOKEN,
        tokenOut: WETH,
        fee: 500,
        recipient: local.address,
        amountIn: 1000n,
        amountOutMinimum: 995n,
        sqrtPriceLimitX96: 0n,
      },
    ],
  });
  const unwrap = encodeFunctionData({ abi: UNISWAP_V3_ABI, functionName: 'unwrapWETH9', args: [1n, local.address] });
  const multicall = tx(
    ROUTER,
    encodeFunctionData({ abi: UNISWAP_V3_ABI, functionName: 'multicall', args: [[swap, unwrap]] }),
  );
  const ctx = { self: local.address, quote: { amountOut: 1000n } };
  const n = 3000;
  for (const [name, t] of [
    ['ERC-20 approve', approve],
    ['Uniswap multicall', multicall],
  ] as const) {
    if (!decideTransaction(policy, t, ctx).allowed) throw new Error(`bench policy refuses the ${name}`);
    const decisions = await timed(n, () => decideTransaction(policy, t, ctx));
    const signs = await timed(n / 3, () => signTransactionWith(local, t));
    console.log(
      `  policy, ${name.padEnd(18)} ${decisions.toFixed(0)} decisions/s   (decode, re-encode, judge)   ` +
        `${(decisions / signs).toFixed(1)}× the local signing rate of the same tx, ` +
        `${(decisions / ((raw + raw2) / 2)).toFixed(1)}× raw signing`,
    );
  }
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
  await printPolicyRates(local, raw, raw2);
} finally {
  await moto.stop();
}
