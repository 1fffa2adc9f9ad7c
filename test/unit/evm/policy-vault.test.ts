// The MCP signing policy (deny by default, every refusal names its rule) and the vault's
// fail-closed audit: no signature leaves without its decision recorded.
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTransaction, verifyMessage } from 'viem';
import { parseTransactionInput, parseTypedData } from '../../../src/evm/operations.js';
import {
  decideMessage,
  decideTransaction,
  decideTypedData,
  parsePolicy,
  readPolicyFile,
} from '../../../src/evm/policy.js';
import { LocalEvmSigner } from '../../../src/evm/signer.js';
import { Vault, type DecisionRecord } from '../../../src/mcp/vault.js';
import { tempDir } from '../../helpers/tmp.js';
import { PERMIT } from '../../fixtures/evm.js';

const TOKEN = '0x5FbDB2315678afecb367f032d93F642f64180aa3';
const POLICY = parsePolicy(
  {
    version: 1,
    signMessage: true,
    chainIds: [31337],
    contracts: [TOKEN, PERMIT.message.spender],
    selectors: ['0xa9059cbb'],
    maxValueWei: '1000',
    maxDeadlineSeconds: 3600,
    typedDataDomains: [{ name: 'USD Coin', chainId: 31337, verifyingContract: TOKEN.toLowerCase() }],
    // A transfer is decoded and judged by its protocol's rules (issue 22), not by its selector.
    // A signed Permit grants what an approve grants: the same section bounds it.
    protocolPolicies: {
      erc20: { recipientAllowlist: [PERMIT.message.spender], maxAmountWei: '1', maxAllowanceWei: '1000000' },
    },
  },
  'test',
);

const tx = (over: Record<string, unknown> = {}) =>
  parseTransactionInput(
    { chainId: 31337, nonce: 0, to: TOKEN, gas: 60000, maxFeePerGas: 2, maxPriorityFeePerGas: 1, ...over },
    'tx',
  );
const transfer = `0xa9059cbb${'00'.repeat(12)}${PERMIT.message.spender.slice(2)}${'00'.repeat(31)}01`;

describe('policy decisions', () => {
  it('allows what the policy lists', () => {
    expect(decideTransaction(POLICY, tx({ data: transfer }))).toEqual({ allowed: true });
    expect(decideTransaction(POLICY, tx({ to: PERMIT.message.spender, value: 1000 }))).toEqual({ allowed: true });
    expect(decideMessage(POLICY)).toEqual({ allowed: true });
    const now = 1_800_000_000;
    expect(
      decideTypedData(
        POLICY,
        parseTypedData(
          {
            ...PERMIT,
            domain: { ...PERMIT.domain, verifyingContract: TOKEN },
            message: { ...PERMIT.message, deadline: String(now + 60) },
          },
          'p',
        ),
        now,
      ),
    ).toEqual({ allowed: true });
  });

  it('names the rule that refused', () => {
    const rule = (d: ReturnType<typeof decideTransaction>) => (d.allowed ? 'allowed' : d.rule);
    expect(rule(decideTransaction(POLICY, tx({ chainId: 1 })))).toBe('chainIds');
    expect(rule(decideTransaction(POLICY, tx({ to: PERMIT.message.owner })))).toBe('contracts');
    expect(rule(decideTransaction(POLICY, tx({ to: undefined })))).toBe('contracts');
    expect(rule(decideTransaction(POLICY, tx({ data: '0x095ea7b3' })))).toBe('calldata'); // approve, no arguments
    expect(rule(decideTransaction(POLICY, tx({ data: '0xa9' })))).toBe('selectors');
    expect(rule(decideTransaction(POLICY, tx({ value: 1001 })))).toBe('maxValueWei');
    const now = 1_800_000_000;
    const typed = (over: Record<string, unknown>, msg: Record<string, unknown> = {}) =>
      decideTypedData(
        POLICY,
        parseTypedData(
          {
            ...PERMIT,
            domain: { ...PERMIT.domain, verifyingContract: TOKEN, ...over },
            message: { ...PERMIT.message, deadline: String(now + 60), ...msg },
          },
          'p',
        ),
        now,
      );
    expect(rule(typed({ name: 'Other' }))).toBe('typedDataDomains');
    expect(rule(typed({ chainId: 1 }))).toBe('chainIds');
    expect(rule(typed({}, { deadline: String(now + 3601) }))).toBe('maxDeadlineSeconds');
    expect(rule(typed({}, { deadline: (2n ** 256n - 1n).toString() }))).toBe('maxDeadlineSeconds');
  });

  it('denies everything without a policy, and value without maxValueWei', () => {
    for (const d of [
      decideMessage(undefined),
      decideTransaction(undefined, tx()),
      decideTypedData(undefined, parseTypedData(PERMIT, 'p')),
    ]) {
      expect(d).toMatchObject({ allowed: false, rule: 'no-policy' });
    }
    const strict = parsePolicy({ version: 1, chainIds: [31337], contracts: [TOKEN] }, 't');
    expect(decideTransaction(strict, tx({ value: 1 }))).toMatchObject({ rule: 'maxValueWei' });
    expect(decideMessage(strict)).toMatchObject({ rule: 'signMessage' });
  });

  it('a policy file with an unknown or mistyped field is a named error', async () => {
    const dir = tempDir();
    const write = (name: string, text: string) => {
      const f = path.join(dir, name);
      writeFileSync(f, text);
      return f;
    };
    await expect(readPolicyFile(write('a.json', JSON.stringify({ version: 1, chainIDs: [1] })))).rejects.toMatchObject({
      code: 'POLICY_UNKNOWN_FIELD',
      details: [expect.stringContaining('"chainIDs"')],
    });
    await expect(
      readPolicyFile(write('b.json', JSON.stringify({ version: 1, typedDataDomains: [{ nam: 'x' }] }))),
    ).rejects.toMatchObject({ code: 'POLICY_UNKNOWN_FIELD' });
    await expect(readPolicyFile(write('c.json', JSON.stringify({ version: 1, maxValueWei: 5 })))).rejects.toMatchObject(
      { code: 'POLICY_INVALID' },
    );
    await expect(readPolicyFile(write('d.json', JSON.stringify({ chainIds: [1] })))).rejects.toMatchObject({
      code: 'POLICY_INVALID',
    });
    await expect(readPolicyFile(write('e.json', '{'))).rejects.toMatchObject({ code: 'POLICY_INVALID' });
    await expect(readPolicyFile(path.join(dir, 'missing.json'))).rejects.toMatchObject({ code: 'POLICY_NOT_FOUND' });
  });
});

async function vaultWith(policy = POLICY, record?: (r: DecisionRecord) => Promise<void>) {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'secp256k1' });
  const file = path.join(tempDir(), 'k.pem');
  writeFileSync(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const records: DecisionRecord[] = [];
  const vault = new Vault({
    openSigner: () => LocalEvmSigner.fromFile(file),
    policy,
    record: record ?? (async (r) => void records.push(r)),
    info: { keyRef: `file:${file}` },
  });
  return { vault, records };
}

describe('vault tools', () => {
  it('records allowed calls with the signature hash, denied ones with the rule', async () => {
    const { vault, records } = await vaultWith();
    const ok = await vault.call('sign_transaction', {
      transaction: {
        chainId: 31337,
        nonce: 0,
        to: TOKEN,
        gas: 60000,
        maxFeePerGas: 2,
        maxPriorityFeePerGas: 1,
        data: transfer,
      },
    });
    expect(ok.ok).toBe(true);
    expect(parseTransaction((ok as unknown as { value: { raw: `0x${string}` } }).value.raw).to).toBe(
      TOKEN.toLowerCase(),
    );
    const no = await vault.call('sign_transaction', {
      transaction: { chainId: 1, nonce: 0, to: TOKEN, gas: 60000, maxFeePerGas: 2, maxPriorityFeePerGas: 1 },
    });
    expect(no).toMatchObject({ ok: false, code: 'POLICY_DENIED', rule: 'chainIds' });
    expect(records[0]).toMatchObject({
      tool: 'sign_transaction',
      decision: 'allowed',
      chain_id: 31337,
      signature_hash: expect.stringMatching(/^0x[0-9a-f]{64}$/),
      tx_hash: expect.any(String),
    });
    expect(records[1]).toMatchObject({ tool: 'sign_transaction', decision: 'denied', rule: 'chainIds', chain_id: 1 });
    expect(records[0]!.request_digest).toMatch(/^[0-9a-f]{64}$/);
    expect(records[0]!.request_digest).not.toBe(records[1]!.request_digest);
  });

  it('bad arguments are a failed, recorded call with a code; the server goes on', async () => {
    const { vault, records } = await vaultWith();
    expect(await vault.call('sign_typed_data', { typedData: '{nope' })).toMatchObject({
      ok: false,
      code: 'MCP_ARGUMENT_INVALID',
    });
    expect(await vault.call('sign_transaction', { transaction: { nonce: 0 } })).toMatchObject({
      ok: false,
      code: 'EVM_CHAIN_ID_MISSING',
    });
    expect(records.map((r) => r.decision)).toEqual(['failed', 'failed']);
    const msg = await vault.call('sign_message', { message: 'gm' });
    const addr = await vault.call('get_address', {});
    expect(
      await verifyMessage({
        address: (addr as unknown as { value: { address: `0x${string}` } }).value.address,
        message: 'gm',
        signature: (msg as unknown as { value: { signature: `0x${string}` } }).value.signature,
      }),
    ).toBe(true);
  });

  it('withholds the signature when the decision cannot be recorded (fail closed)', async () => {
    const { vault } = await vaultWith(POLICY, async () => {
      throw new Error('disk full');
    });
    const r = await vault.call('sign_message', { message: 'gm' });
    expect(r).toMatchObject({ ok: false, code: 'MCP_AUDIT_WRITE_FAILED' });
    expect(JSON.stringify(r)).not.toMatch(/0x[0-9a-f]{130}/);
  });

  it('verify_signature reports valid and invalid without failing the call', async () => {
    const { vault } = await vaultWith();
    const msg = (await vault.call('sign_message', { message: 'gm' })) as unknown as {
      value: { signature: string; address: string };
    };
    expect(
      await vault.call('verify_signature', {
        address: msg.value.address,
        signature: msg.value.signature,
        message: 'gm',
      }),
    ).toMatchObject({ ok: true, value: { valid: true } });
    expect(
      await vault.call('verify_signature', { address: TOKEN, signature: msg.value.signature, message: 'gm' }),
    ).toMatchObject({ ok: true, value: { valid: false } });
  });
});
