// Issue 22 (part): the policy tried as a hostile agent would. The hashed EIP-712 domain and
// struct fields are exactly the ones the policy checks; fees are bounded; deadlines are found at
// any depth, and 0 ("never expires") is refused unless the policy allows it.
import { describe, expect, it } from 'vitest';
import { parseTransactionInput, parseTypedData } from '../../../src/evm/operations.js';
import { decideTransaction, decideTypedData, parsePolicy } from '../../../src/evm/policy.js';
import { daiPermit, PERMIT, permit2Batch } from '../../fixtures/evm.js';
import { ERC20_ABI } from '../../../src/evm/calldata.js';

const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const PERMIT2 = '0x000000000022D473030F116dDEE9F6B43aC78BA3';
const NOW = 1_900_000_000;
const policy = (over: Record<string, unknown> = {}) =>
  parsePolicy(
    {
      version: 1,
      chainIds: [31337],
      contracts: [TOKEN],
      maxValueWei: '1000',
      maxDeadlineSeconds: 3600,
      typedDataDomains: [{ chainId: 31337 }],
      ...over,
    },
    'test',
  );
const rule = (d: { allowed: boolean; rule?: string }) => (d.allowed ? 'allowed' : d.rule);
const tx = (over: Record<string, unknown>) =>
  parseTransactionInput({ chainId: 31337, nonce: 0, to: TOKEN, gas: 21000, ...over }, 'tx');

describe('the hashed domain is the checked domain', () => {
  it('a supplied EIP712Domain that leaves out chainId and verifyingContract is refused before any policy runs', () => {
    const narrowed = {
      ...PERMIT,
      types: {
        ...PERMIT.types,
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'version', type: 'string' },
        ],
      },
    };
    expect(() => parseTypedData(narrowed, 'agent')).toThrow(
      expect.objectContaining({ code: 'EVM_TYPED_DATA_INVALID', message: expect.stringMatching(/would not cover/) }),
    );
    const exact = {
      ...PERMIT,
      types: {
        ...PERMIT.types,
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'version', type: 'string' },
          { name: 'chainId', type: 'uint256' },
          { name: 'verifyingContract', type: 'address' },
        ],
      },
    };
    expect(parseTypedData(exact, 'agent').primaryType).toBe('Permit');
  });

  it('a message field its struct does not declare (so no hash covers it) is refused', () => {
    const smuggled = { ...PERMIT, message: { ...PERMIT.message, expiry: '1' } };
    expect(() => parseTypedData(smuggled, 'agent')).toThrow(
      expect.objectContaining({ code: 'EVM_TYPED_DATA_INVALID' }),
    );
  });
});

describe('bounded fees', () => {
  it('value 0 with a 10^24 tip or fee cap is refused by default; the policy can raise the caps', () => {
    const huge = '1000000000000000000000000';
    expect(rule(decideTransaction(policy(), tx({ maxFeePerGas: huge, maxPriorityFeePerGas: huge })))).toBe(
      'maxPriorityFeePerGasWei',
    );
    expect(rule(decideTransaction(policy(), tx({ maxFeePerGas: huge, maxPriorityFeePerGas: 1 })))).toBe('maxFeeWei');
    expect(rule(decideTransaction(policy(), tx({ gasPrice: huge })))).toBe('maxFeeWei');
    expect(
      rule(decideTransaction(policy(), tx({ maxFeePerGas: '30000000000', maxPriorityFeePerGas: '1000000000' }))),
    ).toBe('allowed');
    const generous = policy({ maxFeeWei: '10000000000000000000', maxPriorityFeePerGasWei: '1000000000000' });
    expect(
      rule(decideTransaction(generous, tx({ maxFeePerGas: '400000000000000', maxPriorityFeePerGas: '1000000000000' }))),
    ).toBe('allowed');
  });
});

describe('deadlines anywhere', () => {
  const batch = (expiration: string) =>
    parseTypedData(
      permit2Batch({
        verifyingContract: PERMIT2,
        token: TOKEN,
        spender: PERMIT.message.spender,
        expirations: [String(NOW + 60), expiration],
        sigDeadline: String(NOW + 60),
      }),
      'agent',
    );

  it("Permit2 PermitBatch's details[].expiration is checked in every element", () => {
    expect(rule(decideTypedData(policy(), batch(String(NOW + 60)), NOW))).toBe('allowed');
    const far = decideTypedData(policy(), batch(String(NOW + 10 ** 9)), NOW);
    expect(far).toMatchObject({ allowed: false, rule: 'maxDeadlineSeconds' });
    expect(JSON.stringify(far)).toContain('details[1].expiration');
  });

  it('a deadline two levels down is checked', () => {
    const nested = parseTypedData(
      {
        domain: { name: 'Orders', chainId: 31337 },
        types: {
          Order: [{ name: 'inner', type: 'Inner' }],
          Inner: [{ name: 'terms', type: 'Terms' }],
          Terms: [{ name: 'validUntil', type: 'uint256' }],
        },
        primaryType: 'Order',
        message: { inner: { terms: { validUntil: String(NOW + 10 ** 9) } } },
      },
      'agent',
    );
    expect(rule(decideTypedData(policy(), nested, NOW))).toBe('maxDeadlineSeconds');
  });

  it('a DAI permit with expiry 0 ("never") is refused unless the policy allows it', () => {
    const dai = parseTypedData(
      daiPermit({ verifyingContract: TOKEN, spender: PERMIT.message.spender, expiry: '0', allowed: true }),
      'agent',
    );
    expect(decideTypedData(policy(), dai, NOW)).toMatchObject({ allowed: false, rule: 'maxDeadlineSeconds' });
    expect(rule(decideTypedData(policy({ allowNoExpiry: true }), dai, NOW))).toBe('allowed');
  });
});

describe('every decision reaches the chain', () => {
  it('a client name with NUL or a lone surrogate (no PostgreSQL text, no I-JSON) is recorded as visible escapes', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const { writeFileSync } = await import('node:fs');
    const path = await import('node:path');
    const { tempDir } = await import('../../helpers/tmp.js');
    const { Vault } = await import('../../../src/mcp/vault.js');
    const { LocalEvmSigner } = await import('../../../src/evm/signer.js');
    const { canonicalJson } = await import('../../../src/audit/canonical.js');
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
    const file = path.join(tempDir(), 'k.pem');
    writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
    const recorded: { record: unknown; client: string }[] = [];
    const vault = new Vault({
      openSigner: () => LocalEvmSigner.fromFile(file),
      policy: policy(),
      // As the chain does: canonical I-JSON only, and no NUL (PostgreSQL text).
      record: async (record, client) => {
        canonicalJson(record as never);
        if (client.includes('\u0000')) throw new Error('NUL');
        recorded.push({ record, client });
      },
      info: { keyRef: `file:${file}` },
    });
    const typedData = { ...PERMIT, domain: { ...PERMIT.domain, name: 'USD\ud800Coin', chainId: 1 } };
    const r = await vault.call('sign_typed_data', { typedData }, 'evil\u0000client\udc00/1');
    expect(r).toMatchObject({ ok: false });
    expect(r).not.toHaveProperty('auditWarning');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.client).toBe('evil\\u0000client\\udc00/1');
    expect(recorded[0]!.record).toMatchObject({ decision: 'denied', rule: 'chainIds' });
  });
});

describe('calldata is read (ERC-20)', () => {
  const SPENDER = PERMIT.message.spender as `0x${string}`;
  const OTHER = PERMIT.message.owner as `0x${string}`;
  const call = async (fn: string, args: unknown[]) => {
    const { encodeFunctionData } = await import('viem');
    return encodeFunctionData({ abi: ERC20_ABI, functionName: fn as 'transfer', args: args as never });
  };
  const MAX = 2n ** 256n - 1n;
  const selectorsOnly = policy({ selectors: ['0xa9059cbb', '0x095ea7b3'] });
  const erc20 = policy({
    protocolPolicies: { erc20: { tokenAllowlist: [TOKEN], recipientAllowlist: [SPENDER], maxAllowanceWei: '1000' } },
  });
  const decide = async (p: typeof erc20, fn: string, args: unknown[], to = TOKEN) =>
    rule(decideTransaction(p, tx({ to, data: await call(fn, args), maxFeePerGas: 2, maxPriorityFeePerGas: 1 })));

  it('a policy that lists only the selectors signs no transfer or approve at all (fail-closed)', async () => {
    expect(await decide(selectorsOnly, 'approve', [OTHER, MAX])).toBe('protocolPolicies.erc20');
    expect(await decide(selectorsOnly, 'transfer', [OTHER, 10n ** 30n])).toBe('protocolPolicies.erc20');
  });

  it('unlimited approvals, other spenders and recipients, and amounts over the caps are refused', async () => {
    expect(await decide(erc20, 'approve', [SPENDER, MAX])).toBe('erc20.allowUnlimitedApproval');
    expect(await decide(erc20, 'approve', [OTHER, 1n])).toBe('erc20.recipientAllowlist');
    expect(await decide(erc20, 'approve', [SPENDER, 1001n])).toBe('erc20.maxAllowanceWei');
    expect(await decide(erc20, 'increaseAllowance', [SPENDER, 2000n])).toBe('erc20.maxAllowanceWei');
    expect(await decide(erc20, 'transfer', [OTHER, 1n])).toBe('erc20.recipientAllowlist');
    expect(await decide(erc20, 'transferFrom', [SPENDER, OTHER, 1n])).toBe('erc20.recipientAllowlist');
    expect(await decide(erc20, 'transfer', [SPENDER, 1001n])).toBe('erc20.maxAmountWei'); // maxAllowanceWei caps it
    expect(await decide(erc20, 'approve', [SPENDER, 1000n])).toBe('allowed');
    expect(await decide(erc20, 'transfer', [SPENDER, 1000n])).toBe('allowed');
  });

  it('a token off the allowlist, and calldata with bytes riding after the arguments, are refused', async () => {
    const another = policy({
      contracts: [TOKEN, PERMIT2],
      protocolPolicies: { erc20: { tokenAllowlist: [TOKEN], recipientAllowlist: [SPENDER], maxAllowanceWei: '1' } },
    });
    expect(await decide(another, 'transfer', [SPENDER, 1n], PERMIT2)).toBe('erc20.tokenAllowlist');
    const padded = `${await call('transfer', [SPENDER, 1n])}${'00'.repeat(32)}`;
    expect(rule(decideTransaction(erc20, tx({ data: padded, gasPrice: 1 })))).toBe('calldata');
  });
});
