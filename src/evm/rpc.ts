// An Ethereum JSON-RPC node behind the narrow interface `agentkeys mcp` needs: the chain it serves,
// balances, and broadcasting a transaction already signed and recorded. viem does the JSON-RPC.
import { createPublicClient, erc20Abi, http, type Address, type Hex } from 'viem';
import { UsageError } from '../errors.js';
import { redactUrl } from '../sys/redact.js';

export interface EvmRpc {
  chainId(): Promise<number>;
  balance(address: Address): Promise<bigint>;
  tokenBalance(token: Address, address: Address): Promise<bigint>;
  /** eth_sendRawTransaction: the node's transaction hash. */
  sendRaw(raw: Hex): Promise<Hex>;
}

export function openRpc(url: string): EvmRpc {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    parsed = new URL('invalid:');
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--rpc-url ${redactUrl(url)} is not an http(s) URL`,
      hint: '--rpc-url https://eth.example.org (or http://127.0.0.1:8545 for a local node)',
    });
  const client = createPublicClient({ transport: http(url, { timeout: 15_000, retryCount: 2 }) });
  let chain: Promise<number> | undefined;
  return {
    chainId: () => (chain ??= client.getChainId().catch((err: unknown) => ((chain = undefined), Promise.reject(err)))),
    balance: (address) => client.getBalance({ address }),
    tokenBalance: (token, address) =>
      client.readContract({ address: token, abi: erc20Abi, functionName: 'balanceOf', args: [address] }),
    sendRaw: (raw) => client.sendRawTransaction({ serializedTransaction: raw }),
  };
}
