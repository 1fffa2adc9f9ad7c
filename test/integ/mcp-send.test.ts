// Issue 22: `agentkeys mcp` with --rpc-url and --allow-send, driven by the MCP SDK's own client
// over stdio against a real local node (anvil): get_balance, a transaction the policy allows is
// broadcast and mined, a denied one never reaches the node; simulate shows the decoded intent and
// the rule; the server's start and stop and every call are in a chain that verifies. Both policy
// formats (agentkeys' and Agentic Vault's) are served. A local secp256k1 key: no AWS is involved.
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { encodeFunctionData, parseEther, type Address, type Hex } from 'viem';
import { ERC20_ABI, UNISWAP_V3_ABI } from '../../src/evm/calldata.js';
import { useAnvil } from '../helpers/anvil.js';
import { CLI, runCli } from '../helpers/cli.js';
import { tempDir } from '../helpers/tmp.js';
import { daiPermit, PERMIT, permit2Batch } from '../fixtures/evm.js';

const node = useAnvil();

const RECIPIENT: Address = '0x3C44CdDdB6a900fa2b585dd299e03d12FA4293BC';
const TOKEN: Address = '0xA0b86991c6218b36c1d19D4a2e9Eb0cE3606eB48';
const ROUTER: Address = '0x68b3465833fb72A70ecDF485E0e4C7bD8665Fc45';
const WETH: Address = '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2';
const ATTACKER: Address = '0x90F79bf6EB2c4f870365E785982E1f101E93b906';
const MAX = 2n ** 256n - 1n;

interface Session {
  client: Client;
  call(name: string, args?: Record<string, unknown>): Promise<{ isError: boolean; json: Record<string, unknown> }>;
  close(): Promise<void>;
}

async function connect(cwd: string, args: string[], clientName = 'send-test'): Promise<Session> {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: ['--', CLI, 'mcp', '--key-id', 'local:evm-1', '--audit-log', 'a.jsonl', ...args],
    env: { PATH: process.env.PATH!, HOME: process.env.HOME ?? '/tmp', NO_COLOR: '1' },
    cwd,
    stderr: 'pipe',
  });
  const client = new Client({ name: clientName, version: '1.0.0' });
  await client.connect(transport);
  return {
    client,
    call: async (name, a = {}) => {
      const r = (await client.callTool({ name, arguments: a })) as { isError?: boolean; content: { text: string }[] };
      return { isError: r.isError === true, json: JSON.parse(r.content[0]!.text) as Record<string, unknown> };
    },
    close: () => client.close(),
  };
}

async function keyDir(): Promise<{ cwd: string; address: Address }> {
  const cwd = tempDir();
  expect((await runCli(['keys', 'create', '--local', '--alg', 'secp256k1', '--kid', 'evm-1'], { cwd })).code).toBe(0);
  const out = await runCli(['--json', 'evm', 'address', '--key', 'local:evm-1'], { cwd });
  return { cwd, address: JSON.parse(out.stdout).address as Address };
}

const fees = { gas: 21000, maxFeePerGas: '3000000000', maxPriorityFeePerGas: '1000000000' };
const events = (cwd: string) =>
  readFileSync(path.join(cwd, 'a.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event_type: string; payload: Record<string, unknown> });

describe('agentkeys mcp with a node', () => {
  it('broadcasts what the policy allows (mined), never what it refuses; every call and the lifecycle are chained', async () => {
    const { cwd, address } = await keyDir();
    await node.current.fund(address, parseEther('5'));
    writeFileSync(
      path.join(cwd, 'policy.json'),
      JSON.stringify({
        version: 1,
        chainIds: [31337],
        contracts: [RECIPIENT, TOKEN, ROUTER],
        maxValueWei: parseEther('1').toString(),
        protocolPolicies: {
          erc20: { recipientAllowlist: [RECIPIENT], maxAllowanceWei: '1000' },
          uniswap_v3: { tokenAllowlist: [TOKEN, WETH], maxAmountWei: '1000000', maxSlippageBps: 50 },
        },
      }),
    );
    const s = await connect(cwd, ['--policy', 'policy.json', '--rpc-url', node.current.url, '--allow-send']);
    try {
      const names = (await s.client.listTools()).tools.map((t) => t.name);
      expect(names).toEqual(expect.arrayContaining(['simulate', 'get_balance', 'send_transaction']));

      const balance = await s.call('get_balance');
      expect(balance.json).toMatchObject({ address, chainId: 31337, balanceWei: parseEther('5').toString() });

      const before = await node.current.public.getBalance({ address: RECIPIENT });
      const sent = await s.call('send_transaction', {
        transaction: { chainId: 31337, nonce: 0, to: RECIPIENT, value: parseEther('0.5').toString(), ...fees },
      });
      expect(sent.isError, JSON.stringify(sent.json)).toBe(false);
      expect(sent.json).toMatchObject({ broadcast: true });
      const receipt = await node.current.public.waitForTransactionReceipt({ hash: sent.json.txHash as Hex });
      expect(receipt.status).toBe('success');
      expect((await node.current.public.getBalance({ address: RECIPIENT })) - before).toBe(parseEther('0.5'));

      // Denied: over maxValueWei. The node never sees it: the signer's nonce stays at 1.
      const denied = await s.call('send_transaction', {
        transaction: { chainId: 31337, nonce: 1, to: RECIPIENT, value: parseEther('2').toString(), ...fees },
      });
      expect(denied.isError).toBe(true);
      expect(denied.json).toMatchObject({ error: { code: 'POLICY_DENIED', rule: 'maxValueWei' } });
      expect(await node.current.public.getTransactionCount({ address, blockTag: 'pending' })).toBe(1);

      // Another chain than the node's is refused before signing.
      const wrongChain = await s.call('send_transaction', {
        transaction: { chainId: 1, nonce: 1, to: RECIPIENT, value: '1', ...fees },
      });
      expect(wrongChain.json).toMatchObject({ error: { code: 'EVM_RPC_CHAIN_MISMATCH' } });

      // An unlimited approve to an attacker: decoded and refused, never signed.
      const approve = encodeFunctionData({ abi: ERC20_ABI, functionName: 'approve', args: [ATTACKER, MAX] });
      const refused = await s.call('sign_transaction', {
        transaction: { chainId: 31337, nonce: 1, to: TOKEN, data: approve, ...fees, gas: 60000 },
      });
      expect(refused.json).toMatchObject({ error: { rule: 'erc20.recipientAllowlist' } });

      // simulate: the decoded swap and the rule, without a signature; with a quote it would sign.
      const swap = encodeFunctionData({
        abi: UNISWAP_V3_ABI,
        functionName: 'exactInputSingle',
        args: [
          {
            tokenIn: TOKEN,
            tokenOut: WETH,
            fee: 500,
            recipient: address,
            amountIn: 1000n,
            amountOutMinimum: 995n,
            sqrtPriceLimitX96: 0n,
          },
        ],
      });
      const swapTx = { chainId: 31337, nonce: 1, to: ROUTER, data: swap, ...fees, gas: 200000 };
      const noQuote = await s.call('simulate', { transaction: swapTx });
      expect(noQuote.json).toMatchObject({
        wouldSign: false,
        rule: 'uniswap_v3.maxSlippageBps',
        decoded: { protocol: 'uniswap_v3', fn: 'exactInputSingle' },
      });
      const quoted = await s.call('simulate', { transaction: swapTx, quote: { amountOut: '1000' } });
      expect(quoted.json).toMatchObject({ wouldSign: true });
      expect(quoted.json).not.toHaveProperty('raw');
      const signedSwap = await s.call('sign_transaction', { transaction: swapTx, quote: { amountOut: '1000' } });
      expect(signedSwap.json).toHaveProperty('raw');
    } finally {
      await s.close();
    }
    // close() returns once the server has exited, its stop recorded
    const chain = events(cwd);
    expect(chain[0]).toMatchObject({
      event_type: 'mcp.server_start',
      payload: { policy_format: 'agentkeys/v1', policy_digest: expect.stringMatching(/^[0-9a-f]{64}$/) },
    });
    expect(chain.at(-1)).toMatchObject({ event_type: 'mcp.server_stop', payload: { reason: 'end of input' } });
    expect(chain.filter((e) => e.event_type === 'mcp.simulate').map((e) => e.payload.simulated)).toEqual([
      'denied',
      'allowed',
    ]);
    expect(chain.filter((e) => e.event_type === 'mcp.send_transaction').map((e) => e.payload.decision)).toEqual([
      'allowed',
      'denied',
      'failed',
    ]);
    const verified = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl'], { cwd });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 60_000);

  it("serves Agentic Vault's policy file unchanged; without --allow-send there is no send_transaction", async () => {
    const { cwd } = await keyDir();
    const example = JSON.parse(
      readFileSync(new URL('../fixtures/agentic-vault/policy.example.json', import.meta.url), 'utf8'),
    ) as Record<string, unknown>;
    // The example, on anvil's chain id, with its USDC address
    writeFileSync(path.join(cwd, 'peer.json'), JSON.stringify({ ...example, allowedChainIds: [31337] }));
    const s = await connect(cwd, ['--policy', 'peer.json', '--rpc-url', node.current.url]);
    try {
      const names = (await s.client.listTools()).tools.map((t) => t.name);
      expect(names).toContain('get_balance');
      expect(names).not.toContain('send_transaction');
      const approve = (amount: bigint) => ({
        transaction: {
          chainId: 31337,
          nonce: 0,
          to: TOKEN,
          data: encodeFunctionData({ abi: ERC20_ABI, functionName: 'approve', args: [RECIPIENT, amount] }),
          ...fees,
          gas: 60000,
        },
      });
      expect((await s.call('sign_transaction', approve(10n ** 18n))).json).toHaveProperty('raw');
      expect((await s.call('sign_transaction', approve(10n ** 18n + 1n))).json).toMatchObject({
        error: { code: 'POLICY_DENIED', rule: 'erc20.maxAllowanceWei' },
      });
    } finally {
      await s.close();
    }
  }, 60_000);

  it("the issue's attacks, as a hostile agent sends them through the SDK client: each refused, each recorded", async () => {
    const { cwd } = await keyDir();
    writeFileSync(
      path.join(cwd, 'policy.json'),
      JSON.stringify({
        version: 1,
        chainIds: [31337],
        contracts: [TOKEN],
        maxDeadlineSeconds: 3600,
        typedDataDomains: [{ chainId: 31337 }],
        protocolPolicies: { erc20: { recipientAllowlist: [RECIPIENT], maxAllowanceWei: '1000' } },
      }),
    );
    // A client name no PostgreSQL text or I-JSON can hold, chosen by the agent.
    const s = await connect(cwd, ['--policy', 'policy.json'], 'agent\ud800\u0000');
    const now = Math.floor(Date.now() / 1000);
    const tokenTx = (data: Hex, over: Record<string, unknown> = {}) => ({
      transaction: { chainId: 31337, nonce: 0, to: TOKEN, data, ...fees, gas: 60000, ...over },
    });
    const permitBatch = permit2Batch({
      verifyingContract: TOKEN,
      token: TOKEN,
      spender: RECIPIENT,
      expirations: [String(now + 10 ** 8)],
      sigDeadline: String(now + 60),
    });
    const daiForever = daiPermit({ verifyingContract: TOKEN, spender: RECIPIENT, expiry: '0', allowed: false });
    const narrowedDomain = {
      ...PERMIT,
      types: {
        ...PERMIT.types,
        EIP712Domain: [
          { name: 'name', type: 'string' },
          { name: 'version', type: 'string' },
        ],
      },
    };
    const huge = '1000000000000000000000000';
    const approveAll = encodeFunctionData({ abi: ERC20_ABI, functionName: 'approve', args: [ATTACKER, MAX] });
    const transferAll = encodeFunctionData({ abi: ERC20_ABI, functionName: 'transfer', args: [ATTACKER, 10n ** 30n] });
    const attacks: [string, Record<string, unknown>, Record<string, unknown>][] = [
      ['sign_transaction', tokenTx(approveAll), { rule: 'erc20.recipientAllowlist' }],
      ['sign_transaction', tokenTx(transferAll), { rule: 'erc20.recipientAllowlist' }],
      [
        'sign_transaction',
        tokenTx('0x', { to: TOKEN, maxFeePerGas: huge, maxPriorityFeePerGas: huge, gas: 21000 }),
        { rule: 'maxPriorityFeePerGasWei' },
      ],
      ['sign_typed_data', { typedData: narrowedDomain }, { code: 'EVM_TYPED_DATA_INVALID' }],
      ['sign_typed_data', { typedData: permitBatch }, { rule: 'maxDeadlineSeconds' }],
      ['sign_typed_data', { typedData: daiForever }, { rule: 'maxDeadlineSeconds' }],
      ['sign_message', { message: 5 }, {}], // schema-invalid: refused by the SDK (-32602)
    ];
    try {
      for (const [tool, args, expected] of attacks) {
        const r = (await s.client.callTool({ name: tool, arguments: args })) as {
          isError?: boolean;
          content: { text: string }[];
        };
        expect(r.isError, `${tool} ${JSON.stringify(expected)}`).toBe(true);
        if (Object.keys(expected).length) expect(JSON.parse(r.content[0]!.text)).toMatchObject({ error: expected });
      }
    } finally {
      await s.close();
    }
    const chain = events(cwd).filter((e) => !e.event_type.startsWith('mcp.server_'));
    expect(chain).toHaveLength(attacks.length); // every refusal is in the chain, none dropped
    expect(chain.every((e) => e.payload.decision !== 'allowed')).toBe(true);
    const actors = readFileSync(path.join(cwd, 'a.jsonl'), 'utf8');
    expect(actors).toContain('mcp:agent\\\\ud800\\\\u0000/1.0.0');
    const verified = await runCli(['--json', 'verify-audit', '--log', 'a.jsonl'], { cwd });
    expect(verified.code, verified.stdout + verified.stderr).toBe(0);
  }, 60_000);
});
