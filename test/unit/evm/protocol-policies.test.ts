// Issue 22: calldata decoded with viem and judged per protocol, tried as a hostile agent would:
// EIP-2612/DAI permits, Permit2, Uniswap V3 (both routers, multicall) and Aave V3. Also
// Agentic Vault's own policy file (its policy.example.json, MIT, copied unchanged into
// test/fixtures/agentic-vault/) deciding as that project documents, and random calldata.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { encodeFunctionData, encodePacked, type Address, type Hex } from 'viem';
import {
  AAVE_V3_ABI,
  decodeCalldata,
  ERC20_ABI,
  PERMIT2_ABI,
  PERMIT_ABI,
  UNISWAP_V3_ABI,
} from '../../../src/evm/calldata.js';
import { parseTransactionInput, parseTypedData } from '../../../src/evm/operations.js';
import { decideTransaction, decideTypedData, parsePolicy, type DecideContext } from '../../../src/evm/policy.js';
import { PERMIT } from '../../fixtures/evm.js';

const USDC: Address = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
const WETH: Address = '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2';
const DAI: Address = '0x6B175474E89094C44Da98b954EedeAC495271d0F';
const ROUTER02: Address = '0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45';
const ROUTER_V1: Address = '0xE592427A0AEce92De3Edee1F18E0157C05861564';
const POOL: Address = '0x87870Bca3F3fD6335C3F4ce8392D69350B4fA4E2';
const PERMIT2: Address = '0x000000000022D473030F116dDEE9F6B43aC78BA3';
const FRIEND: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const ATTACKER: Address = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
const SELF: Address = '0x70997970C51812dc3A010C7d01b50e0d17dc79C8';
const NOW = 1_900_000_000;
const MAX = 2n ** 256n - 1n;
const MAX160 = 2n ** 160n - 1n;
const SIG = `0x${'11'.repeat(65)}` as Hex;

const own = (protocolPolicies: Record<string, unknown>, over: Record<string, unknown> = {}) =>
  parsePolicy(
    {
      version: 1,
      chainIds: [1],
      contracts: [USDC, DAI, ROUTER02, ROUTER_V1, POOL, PERMIT2],
      maxDeadlineSeconds: 1800,
      protocolPolicies,
      ...over,
    },
    'test',
  );
const rule = (d: { allowed: boolean; rule?: string }) => (d.allowed ? 'allowed' : d.rule);
const decide = (policy: ReturnType<typeof own>, to: Address, data: Hex, ctx: DecideContext = {}, value = '0') =>
  rule(
    decideTransaction(
      policy,
      parseTransactionInput(
        { chainId: 1, nonce: 0, to, data, value, gas: 300000, maxFeePerGas: 20_000_000_000, maxPriorityFeePerGas: 1 },
        'tx',
      ),
      { nowSeconds: NOW, ...ctx },
    ),
  );
const enc = (abi: unknown, functionName: string, args: unknown[]) =>
  encodeFunctionData({ abi: abi as never, functionName, args } as never) as Hex;

describe('EIP-2612 and DAI permit calldata', () => {
  const p = own({ erc20: { recipientAllowlist: [FRIEND], maxAllowanceWei: '1000' } });
  const eip2612 = (spender: Address, value: bigint, deadline: bigint) =>
    encodeFunctionData({
      abi: [PERMIT_ABI[0]],
      functionName: 'permit',
      args: [SELF, spender, value, deadline, 27, `0x${'22'.repeat(32)}`, `0x${'33'.repeat(32)}`],
    });
  const dai = (spender: Address, expiry: bigint, allowed: boolean) =>
    encodeFunctionData({
      abi: [PERMIT_ABI[1]],
      functionName: 'permit',
      args: [SELF, spender, 0n, expiry, allowed, 27, `0x${'22'.repeat(32)}`, `0x${'33'.repeat(32)}`],
    });

  it('is judged as the allowance it grants: spender, amount, unlimited, deadline', () => {
    expect(decide(p, USDC, eip2612(FRIEND, 1000n, BigInt(NOW + 60)))).toBe('allowed');
    expect(decide(p, USDC, eip2612(ATTACKER, 1n, BigInt(NOW + 60)))).toBe('erc20.recipientAllowlist');
    expect(decide(p, USDC, eip2612(FRIEND, MAX, BigInt(NOW + 60)))).toBe('erc20.allowUnlimitedApproval');
    expect(decide(p, USDC, eip2612(FRIEND, 1n, BigInt(NOW + 10 ** 6)))).toBe('maxDeadlineSeconds');
  });

  it("DAI's allowed=true is unlimited, and expiry 0 never expires: both refused", () => {
    expect(decide(p, DAI, dai(FRIEND, BigInt(NOW + 60), true))).toBe('erc20.allowUnlimitedApproval');
    expect(decide(p, DAI, dai(FRIEND, 0n, false))).toBe('maxDeadlineSeconds');
    expect(decide(p, DAI, dai(FRIEND, BigInt(NOW + 60), false))).toBe('allowed'); // a revocation
  });
});

describe('Permit2 calldata', () => {
  const p = own({
    permit2: { tokenAllowlist: [USDC], recipientAllowlist: [FRIEND], maxAllowanceWei: '5000', maxAmountWei: '100' },
  });
  const details = (token: Address, amount: bigint) => ({ token, amount, expiration: NOW + 60, nonce: 0 });

  it('approve: unlimited (2^160-1), other spenders and tokens are refused', () => {
    expect(decide(p, PERMIT2, enc(PERMIT2_ABI, 'approve', [USDC, FRIEND, 5000n, NOW + 60]))).toBe('allowed');
    expect(decide(p, PERMIT2, enc(PERMIT2_ABI, 'approve', [USDC, FRIEND, MAX160, NOW + 60]))).toBe(
      'permit2.allowUnlimitedApproval',
    );
    expect(decide(p, PERMIT2, enc(PERMIT2_ABI, 'approve', [USDC, ATTACKER, 1n, NOW + 60]))).toBe(
      'permit2.recipientAllowlist',
    );
    expect(decide(p, PERMIT2, enc(PERMIT2_ABI, 'approve', [WETH, FRIEND, 1n, NOW + 60]))).toBe(
      'permit2.tokenAllowlist',
    );
    expect(decide(p, PERMIT2, enc(PERMIT2_ABI, 'approve', [USDC, FRIEND, 1n, NOW + 10 ** 6]))).toBe(
      'maxDeadlineSeconds',
    );
  });

  it('a batch permit is judged in every element; a single permit by its sigDeadline too', () => {
    const batch = (second: Address) =>
      encodeFunctionData({
        abi: PERMIT2_ABI,
        functionName: 'permit',
        args: [
          SELF,
          { details: [details(USDC, 1n), details(second, 1n)], spender: FRIEND, sigDeadline: BigInt(NOW + 60) },
          SIG,
        ],
      });
    expect(decide(p, PERMIT2, batch(USDC))).toBe('allowed');
    expect(decide(p, PERMIT2, batch(WETH))).toBe('permit2.tokenAllowlist');
    const single = encodeFunctionData({
      abi: PERMIT2_ABI,
      functionName: 'permit',
      args: [SELF, { details: details(USDC, 1n), spender: FRIEND, sigDeadline: BigInt(NOW + 10 ** 7) }, SIG],
    });
    expect(decide(p, PERMIT2, single)).toBe('maxDeadlineSeconds');
  });

  it('transfers: recipient and amount of each, signature transfers included', () => {
    expect(decide(p, PERMIT2, enc(PERMIT2_ABI, 'transferFrom', [SELF, FRIEND, 100n, USDC]))).toBe('allowed');
    expect(decide(p, PERMIT2, enc(PERMIT2_ABI, 'transferFrom', [SELF, FRIEND, 101n, USDC]))).toBe(
      'permit2.maxAmountWei',
    );
    const many = enc(PERMIT2_ABI, 'transferFrom', [
      [
        { from: SELF, to: FRIEND, amount: 1n, token: USDC },
        { from: SELF, to: ATTACKER, amount: 1n, token: USDC },
      ],
    ]);
    expect(decide(p, PERMIT2, many)).toBe('permit2.recipientAllowlist');
    const sigTransfer = (to: Address) =>
      enc(PERMIT2_ABI, 'permitTransferFrom', [
        { permitted: { token: USDC, amount: 100n }, nonce: 0n, deadline: BigInt(NOW + 60) },
        { to, requestedAmount: 100n },
        SELF,
        SIG,
      ]);
    expect(decide(p, PERMIT2, sigTransfer(FRIEND))).toBe('allowed');
    expect(decide(p, PERMIT2, sigTransfer(ATTACKER))).toBe('permit2.recipientAllowlist');
  });

  it('without a permit2 section nothing Permit2 is signed', () => {
    expect(decide(own({}), PERMIT2, enc(PERMIT2_ABI, 'approve', [USDC, FRIEND, 1n, NOW + 60]))).toBe(
      'protocolPolicies.permit2',
    );
  });
});

describe('Uniswap V3 router calldata', () => {
  const p = own({
    uniswap_v3: {
      tokenAllowlist: [USDC, WETH],
      recipientAllowlist: [FRIEND],
      maxAmountWei: '10000',
      maxSlippageBps: 100,
    },
  });
  const single = (over: Record<string, unknown> = {}) =>
    enc(UNISWAP_V3_ABI, 'exactInputSingle', [
      {
        tokenIn: USDC,
        tokenOut: WETH,
        fee: 500,
        recipient: SELF,
        amountIn: 10000n,
        amountOutMinimum: 990n,
        sqrtPriceLimitX96: 0n,
        ...over,
      },
    ]);
  const quote = { amountOut: 1000n };

  it('exactInputSingle: the signer as recipient, within 1% of the quote, is signed', () => {
    expect(decide(p, ROUTER02, single(), { self: SELF, quote })).toBe('allowed');
    // address(1) is the router's "msg.sender": the signer itself
    expect(decide(p, ROUTER02, single({ recipient: '0x0000000000000000000000000000000000000001' }), { quote })).toBe(
      'allowed',
    );
  });

  it('no quote, a zero minimum, a minimum below the quote less 1%, or a quote for two swaps are refused', () => {
    expect(decide(p, ROUTER02, single(), { self: SELF })).toBe('uniswap_v3.maxSlippageBps');
    expect(decide(p, ROUTER02, single({ amountOutMinimum: 0n }), { self: SELF, quote })).toBe(
      'uniswap_v3.maxSlippageBps',
    );
    expect(decide(p, ROUTER02, single({ amountOutMinimum: 989n }), { self: SELF, quote })).toBe(
      'uniswap_v3.maxSlippageBps',
    );
    const two = enc(UNISWAP_V3_ABI, 'multicall', [[single(), single()]]);
    expect(decide(p, ROUTER02, two, { self: SELF, quote })).toBe('uniswap_v3.maxSlippageBps');
    const noBound = own({ uniswap_v3: { tokenAllowlist: [USDC, WETH], maxAmountWei: '10000' } });
    expect(decide(noBound, ROUTER02, single(), { self: SELF, quote })).toBe('uniswap_v3.maxSlippageBps');
  });

  it('another recipient, the router itself (address(2)), a token off the list, or too much in are refused', () => {
    expect(decide(p, ROUTER02, single({ recipient: ATTACKER }), { self: SELF, quote })).toBe(
      'uniswap_v3.recipientAllowlist',
    );
    expect(
      decide(p, ROUTER02, single({ recipient: '0x0000000000000000000000000000000000000002' }), { self: SELF, quote }),
    ).toBe('uniswap_v3.recipientAllowlist');
    expect(decide(p, ROUTER02, single({ tokenOut: DAI }), { self: SELF, quote })).toBe('uniswap_v3.tokenAllowlist');
    expect(decide(p, ROUTER02, single({ amountIn: 10001n }), { self: SELF, quote })).toBe('uniswap_v3.maxAmountWei');
  });

  it('multi-hop paths: every token is checked; exact output is bounded by amountInMaximum', () => {
    const path = encodePacked(['address', 'uint24', 'address', 'uint24', 'address'], [USDC, 500, DAI, 500, WETH]);
    const multiHop = enc(UNISWAP_V3_ABI, 'exactInput', [
      { path, recipient: SELF, amountIn: 100n, amountOutMinimum: 990n },
    ]);
    expect(decide(p, ROUTER02, multiHop, { self: SELF, quote })).toBe('uniswap_v3.tokenAllowlist');
    const out = (max: bigint) =>
      enc(UNISWAP_V3_ABI, 'exactOutput', [
        {
          path: encodePacked(['address', 'uint24', 'address'], [WETH, 500, USDC]),
          recipient: SELF,
          amountOut: 1n,
          amountInMaximum: max,
        },
      ]);
    expect(decide(p, ROUTER02, out(1010n), { self: SELF, quote: { amountIn: 1000n } })).toBe('allowed');
    expect(decide(p, ROUTER02, out(1011n), { self: SELF, quote: { amountIn: 1000n } })).toBe(
      'uniswap_v3.maxSlippageBps',
    );
    const badPath = enc(UNISWAP_V3_ABI, 'exactInput', [
      { path: `${USDC}00` as Hex, recipient: SELF, amountIn: 1n, amountOutMinimum: 1n },
    ]);
    expect(decide(p, ROUTER02, badPath, { self: SELF, quote })).toBe('calldata');
  });

  it('the original SwapRouter: its deadline is checked', () => {
    const v1 = (deadline: bigint) =>
      encodeFunctionData({
        // the V1 item alone: its overload differs from SwapRouter02's only inside the tuple
        abi: UNISWAP_V3_ABI.filter(
          (x) => x.type === 'function' && x.name === 'exactInputSingle' && x.inputs[0]!.components.length === 8,
        ),
        functionName: 'exactInputSingle',
        args: [
          {
            tokenIn: USDC,
            tokenOut: WETH,
            fee: 500,
            recipient: SELF,
            deadline,
            amountIn: 100n,
            amountOutMinimum: 990n,
            sqrtPriceLimitX96: 0n,
          },
        ],
      });
    expect(decide(p, ROUTER_V1, v1(BigInt(NOW + 60)), { self: SELF, quote })).toBe('allowed');
    expect(decide(p, ROUTER_V1, v1(BigInt(NOW + 10 ** 6)), { self: SELF, quote })).toBe('maxDeadlineSeconds');
  });

  it('multicall is unwrapped: its deadline, an unwrap to someone else, or a foreign call inside are refused', () => {
    const deadline = (d: bigint) => enc(UNISWAP_V3_ABI, 'multicall', [d, [single()]]);
    expect(decide(p, ROUTER02, deadline(BigInt(NOW + 60)), { self: SELF, quote })).toBe('allowed');
    expect(decide(p, ROUTER02, deadline(BigInt(NOW + 10 ** 6)), { self: SELF, quote })).toBe('maxDeadlineSeconds');
    const unwrap = (to: Address) =>
      enc(UNISWAP_V3_ABI, 'multicall', [[single(), enc(UNISWAP_V3_ABI, 'unwrapWETH9', [1n, to])]]);
    expect(decide(p, ROUTER02, unwrap(SELF), { self: SELF, quote })).toBe('allowed');
    expect(decide(p, ROUTER02, unwrap(ATTACKER), { self: SELF, quote })).toBe('uniswap_v3.recipientAllowlist');
    const smuggled = enc(UNISWAP_V3_ABI, 'multicall', [[single(), enc(ERC20_ABI, 'approve', [ATTACKER, MAX])]]);
    expect(decide(p, ROUTER02, smuggled, { self: SELF, quote })).toBe('calldata');
  });
});

describe('Aave V3 pool calldata', () => {
  const p = own({
    aave_v3: { tokenAllowlist: [WETH], recipientAllowlist: [FRIEND], maxAmountWei: '1000', maxInterestRateMode: 2 },
  });
  it('asset, onBehalfOf / to, amount and interestRateMode are each checked', () => {
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'supply', [WETH, 1000n, SELF, 0]), { self: SELF })).toBe('allowed');
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'supply', [WETH, 1n, FRIEND, 0]))).toBe('allowed');
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'supply', [USDC, 1n, FRIEND, 0]))).toBe('aave_v3.tokenAllowlist');
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'withdraw', [WETH, 1n, ATTACKER]), { self: SELF })).toBe(
      'aave_v3.recipientAllowlist',
    );
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'withdraw', [WETH, MAX, SELF]), { self: SELF })).toBe(
      'aave_v3.maxAmountWei',
    );
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'borrow', [WETH, 1n, 2n, 0, SELF]), { self: SELF })).toBe('allowed');
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'borrow', [WETH, 1n, 3n, 0, SELF]), { self: SELF })).toBe(
      'aave_v3.maxInterestRateMode',
    );
    expect(decide(p, POOL, enc(AAVE_V3_ABI, 'repay', [WETH, 1n, 2n, ATTACKER]), { self: SELF })).toBe(
      'aave_v3.recipientAllowlist',
    );
  });

  it('per-token caps override the section cap', () => {
    const perToken = own({
      aave_v3: { tokenAllowlist: [WETH, USDC], maxAmountWei: '1000', perToken: { [USDC]: { maxAmountWei: '10' } } },
    });
    expect(decide(perToken, POOL, enc(AAVE_V3_ABI, 'supply', [USDC, 11n, SELF, 0]), { self: SELF })).toBe(
      'aave_v3.maxAmountWei',
    );
    expect(decide(perToken, POOL, enc(AAVE_V3_ABI, 'supply', [WETH, 11n, SELF, 0]), { self: SELF })).toBe('allowed');
  });
});

describe('what no decoder reads', () => {
  it('is signed only when its selector is listed as raw-allowed; dirty padding in a known call is refused', () => {
    const unknown = '0xdeadbeef0000000000000000000000000000000000000000000000000000000000000001' as Hex;
    expect(decide(own({}), USDC, unknown)).toBe('selectors');
    expect(decide(own({}, { selectors: ['0xdeadbeef'] }), USDC, unknown)).toBe('allowed');
    const transfer = enc(ERC20_ABI, 'transfer', [FRIEND, 1n]);
    const dirty = `${transfer.slice(0, 10)}ff${transfer.slice(12)}` as Hex; // high bytes of the address word set
    expect(decide(own({ erc20: { recipientAllowlist: [FRIEND], maxAmountWei: '1' } }), USDC, dirty)).toBe('calldata');
  });

  it('random and mutated calldata never throws: each ends in a decision (fuzz, 3000 cases)', () => {
    const seeds = [
      enc(ERC20_ABI, 'approve', [FRIEND, 1n]),
      enc(PERMIT2_ABI, 'transferFrom', [[{ from: SELF, to: FRIEND, amount: 1n, token: USDC }]]),
      enc(UNISWAP_V3_ABI, 'multicall', [[enc(UNISWAP_V3_ABI, 'refundETH', [])]]),
      enc(AAVE_V3_ABI, 'borrow', [WETH, 1n, 2n, 0, SELF]),
    ];
    const p = own({
      erc20: {},
      permit2: {},
      uniswap_v3: { maxSlippageBps: 1 },
      aave_v3: {},
    });
    let state = 0x2545f491;
    const rand = (n: number) => {
      state = (state * 1103515245 + 12345) >>> 0;
      return state % n;
    };
    for (let i = 0; i < 3000; i++) {
      let hex = seeds[i % seeds.length]!.slice(2);
      const op = rand(4);
      if (op === 0) hex = hex.slice(0, 8 + 2 * rand((hex.length - 8) / 2));
      else if (op === 1) hex += 'ab'.repeat(rand(64));
      else {
        const at = 8 + rand(hex.length - 8);
        hex = hex.slice(0, at) + rand(16).toString(16) + hex.slice(at + 1);
      }
      if (hex.length % 2) hex += '0';
      const d = decideTransaction(
        p,
        parseTransactionInput({ chainId: 1, nonce: 0, to: ROUTER02, data: `0x${hex}`, gas: 1, gasPrice: 1 }, 'tx'),
        { nowSeconds: NOW },
      );
      expect(typeof d.allowed).toBe('boolean');
    }
    expect(decodeCalldata(ROUTER02, '0xac9650d8')).toMatchObject({ error: expect.stringContaining('multicall') });
  });
});

describe("Agentic Vault's policy file, unchanged", () => {
  const file = JSON.parse(
    readFileSync(new URL('../../fixtures/agentic-vault/policy.example.json', import.meta.url), 'utf8'),
  );
  const peer = parsePolicy(file, 'policy.example.json');
  const usdc = USDC;
  const router = ROUTER02;

  it('is detected without a version and decides as that project documents', () => {
    expect(peer.format).toBe('agentic-vault');
    // erc20: maxAllowanceWei caps approve and transfer; an empty recipient list allows any spender
    expect(decide(peer, usdc, enc(ERC20_ABI, 'approve', [ATTACKER, 10n ** 18n]))).toBe('allowed');
    expect(decide(peer, usdc, enc(ERC20_ABI, 'approve', [FRIEND, 10n ** 18n + 1n]))).toBe('erc20.maxAllowanceWei');
    expect(decide(peer, usdc, enc(ERC20_ABI, 'transfer', [FRIEND, 10n ** 18n + 1n]))).toBe('erc20.maxAmountWei');
    // allowedSelectors gates decoded calls too: transferFrom is not listed
    expect(decide(peer, usdc, enc(ERC20_ABI, 'transferFrom', [SELF, FRIEND, 1n]))).toBe('selectors');
    // chains, contracts and the value cap (maxAmountWei)
    expect(decide(peer, DAI, enc(ERC20_ABI, 'transfer', [FRIEND, 1n]))).toBe('contracts');
    expect(decide(peer, usdc, '0x', {}, String(10n ** 18n + 1n))).toBe('maxValueWei');
  });

  it('uniswap_v3 with maxSlippageBps refuses amountOutMinimum 0; aave_v3 checks asset and interestRateMode', () => {
    const swap = (min: bigint) =>
      enc(UNISWAP_V3_ABI, 'exactInputSingle', [
        {
          tokenIn: USDC,
          tokenOut: WETH,
          fee: 500,
          recipient: SELF,
          amountIn: 1n,
          amountOutMinimum: min,
          sqrtPriceLimitX96: 0n,
        },
      ]);
    expect(decide(peer, router, swap(0n), { quote: { amountOut: 100n } })).toBe('uniswap_v3.maxSlippageBps');
    expect(decide(peer, router, swap(99n), { quote: { amountOut: 100n } })).toBe('allowed');
    const pool = POOL;
    expect(decide(peer, pool, enc(AAVE_V3_ABI, 'borrow', [WETH, 1n, 2n, 0, SELF]))).toBe('allowed');
    expect(decide(peer, pool, enc(AAVE_V3_ABI, 'borrow', [WETH, 1n, 3n, 0, SELF]))).toBe('aave_v3.maxInterestRateMode');
    expect(decide(peer, pool, enc(AAVE_V3_ABI, 'supply', [USDC, 1n, SELF, 0]))).toBe('aave_v3.tokenAllowlist');
  });

  it('stricter than the peer, as documented: unlimited approvals, and fees, are bounded', () => {
    expect(decide(peer, usdc, enc(ERC20_ABI, 'approve', [FRIEND, MAX]))).toBe('erc20.allowUnlimitedApproval');
    const noCap = parsePolicy({ ...file, protocolPolicies: { erc20: {} } }, 'x');
    expect(decide(noCap, usdc, enc(ERC20_ABI, 'approve', [FRIEND, MAX]))).toBe('erc20.allowUnlimitedApproval');
    expect(decide(noCap, usdc, enc(ERC20_ABI, 'approve', [FRIEND, MAX - 1n]))).toBe('allowed'); // the peer's "no cap"
  });

  it('a signed Permit is bounded by maxAmountWei, on an allowed verifying contract', () => {
    const permit = (value: string, verifyingContract = USDC) =>
      parseTypedData(
        {
          ...PERMIT,
          domain: { ...PERMIT.domain, chainId: 1, verifyingContract },
          message: { ...PERMIT.message, value, deadline: String(NOW + 60) },
        },
        'permit',
      );
    expect(rule(decideTypedData(peer, permit('1000'), NOW))).toBe('allowed');
    expect(rule(decideTypedData(peer, permit(String(10n ** 18n + 1n)), NOW))).toBe('maxAmountWei');
    expect(rule(decideTypedData(peer, permit('1', DAI), NOW))).toBe('typedDataDomains');
  });

  it('its unknown fields and protocols are named errors, never silently ignored', () => {
    expect(() => parsePolicy({ ...file, maxGasWei: '1' }, 'x')).toThrow(
      expect.objectContaining({ code: 'POLICY_UNKNOWN_FIELD' }),
    );
    expect(() => parsePolicy({ ...file, protocolPolicies: { uniswap_v4: {} } }, 'x')).toThrow(
      expect.objectContaining({ code: 'POLICY_UNKNOWN_FIELD' }),
    );
    expect(() => parsePolicy({ allowedChainIds: [1], chainIds: [1] }, 'x')).toThrow(
      expect.objectContaining({ code: 'POLICY_INVALID' }),
    );
  });
});
