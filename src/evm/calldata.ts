// Calldata read before it is signed (issue 22): a selector the decoders know is decoded with
// viem's ABI tools, never by hand, and then judged by its protocol's rules; calldata with a known
// selector that does not decode is refused. Anything no decoder knows is left to the policy's
// raw-allowed selectors.
import { decodeFunctionData, erc20Abi, type Address, type Hex } from 'viem';

const increaseAllowanceAbi = [
  {
    type: 'function',
    name: 'increaseAllowance',
    stateMutability: 'nonpayable',
    inputs: [
      { name: 'spender', type: 'address' },
      { name: 'addedValue', type: 'uint256' },
    ],
    outputs: [{ type: 'bool' }],
  },
] as const;

/** ERC-20 with the common increaseAllowance extension: what the decoder reads (and tests encode with). */
export const ERC20_ABI = [...erc20Abi, ...increaseAllowanceAbi];

/** An ERC-20 call that moves tokens (transfer, transferFrom) or grants an allowance (approve, increaseAllowance). */
export interface Erc20Call {
  protocol: 'erc20';
  fn: 'transfer' | 'transferFrom' | 'approve' | 'increaseAllowance';
  kind: 'transfer' | 'allowance';
  /** The recipient of a transfer, or the spender of an allowance. */
  counterparty: Address;
  amount: bigint;
}

export type Decoded = Erc20Call | { error: string } | undefined;

const ERC20_SELECTORS = new Map<string, Erc20Call['fn']>([
  ['0xa9059cbb', 'transfer'],
  ['0x23b872dd', 'transferFrom'],
  ['0x095ea7b3', 'approve'],
  ['0x39509351', 'increaseAllowance'],
]);

/** The call, an error when a known selector does not decode, or undefined for an unknown selector. */
export function decodeCalldata(data: Hex): Decoded {
  const fn = ERC20_SELECTORS.get(data.slice(0, 10).toLowerCase());
  if (!fn) return undefined;
  let decoded: { functionName: string; args: readonly unknown[] };
  try {
    decoded = decodeFunctionData({ abi: ERC20_ABI, data }) as { functionName: string; args: readonly unknown[] };
  } catch (err) {
    return { error: `${fn} calldata does not decode: ${(err as Error).message.split('\n')[0]}` };
  }
  // A valid call encodes exactly its arguments: trailing bytes are something else riding along.
  const words = fn === 'transferFrom' ? 3 : 2;
  if ((data.length - 10) / 64 !== words)
    return { error: `${fn} calldata carries ${data.length - 10} hex digits of arguments, not ${words * 64}` };
  const a = decoded.args;
  if (fn === 'transferFrom')
    return { protocol: 'erc20', fn, kind: 'transfer', counterparty: a[1] as Address, amount: a[2] as bigint };
  return {
    protocol: 'erc20',
    fn,
    kind: fn === 'transfer' ? 'transfer' : 'allowance',
    counterparty: a[0] as Address,
    amount: a[1] as bigint,
  };
}

export const MAX_UINT256 = 2n ** 256n - 1n;
