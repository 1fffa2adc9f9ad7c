// Calldata read before it is signed (issue 22): a selector the decoders know is decoded with
// viem's ABI tools, never by hand, and must re-encode to exactly the bytes given (no bytes riding
// after the arguments, no dirty padding); then its protocol's rules judge what it does. Calldata
// with a known selector that does not decode is refused. Anything no decoder knows is left to the
// policy's raw-allowed selectors.
import {
  decodeFunctionData,
  encodeFunctionData,
  erc20Abi,
  getAddress,
  parseAbi,
  toFunctionSelector,
  type Abi,
  type AbiFunction,
  type Address,
  type Hex,
} from 'viem';
import { messageOf } from '../sys/operator-file.js';

export type Protocol = 'erc20' | 'permit2' | 'uniswap_v3' | 'aave_v3';

/** Who receives what a call moves or grants: the policy's recipientAllowlist holds these. */
export interface Counterparty {
  role: 'recipient' | 'spender' | 'onBehalfOf' | 'to';
  address: Address;
  /** Uniswap's address(1): the router pays msg.sender, the signer itself. */
  isSender?: boolean;
}

/** One effect of a call, in the terms a policy judges: tokens, counterparty, amount, deadlines. */
export interface Intent {
  protocol: Protocol;
  fn: string;
  kind: 'transfer' | 'allowance' | 'swap' | 'sweep' | 'supply' | 'withdraw' | 'borrow' | 'repay';
  /** Every token the effect touches; each must be allowed. */
  tokens: Address[];
  counterparty?: Counterparty;
  /** What is moved, granted or (for a swap) spent at most, in amountToken's units. */
  amount?: bigint;
  amountToken?: Address;
  /** 2^256-1 (or Permit2's 2^160-1, or DAI's allowed=true): an allowance without limit. */
  unlimited?: boolean;
  deadlines: { field: string; value: bigint }[];
  /** amountOutMinimum of an exact-input swap, or amountInMaximum of an exact-output one. */
  swap?: { exact: 'input' | 'output'; limit: bigint };
  interestRateMode?: bigint;
}

export interface DecodedCall {
  selector: Hex;
  protocol: Protocol;
  fn: string;
  intents: Intent[];
}

export type Decoded = DecodedCall | { error: string } | undefined;

export const MAX_UINT256 = 2n ** 256n - 1n;
export const MAX_UINT160 = 2n ** 160n - 1n;

const increaseAllowanceAbi = parseAbi([
  'function increaseAllowance(address spender, uint256 addedValue) returns (bool)',
]);

/** ERC-20 with the common increaseAllowance extension: what the decoder reads (and tests encode with). */
export const ERC20_ABI = [...erc20Abi, ...increaseAllowanceAbi];

/** EIP-2612's permit and DAI's older one (holder, nonce, expiry, allowed): both grant an allowance. */
export const PERMIT_ABI = parseAbi([
  'function permit(address owner, address spender, uint256 value, uint256 deadline, uint8 v, bytes32 r, bytes32 s)',
  `function permit(address holder, address spender, uint256 nonce, uint256 expiry, bool allowed, \
uint8 v, bytes32 r, bytes32 s)`,
]);

export const PERMIT2_ABI = parseAbi([
  'struct PermitDetails { address token; uint160 amount; uint48 expiration; uint48 nonce; }',
  'struct PermitSingle { PermitDetails details; address spender; uint256 sigDeadline; }',
  'struct PermitBatch { PermitDetails[] details; address spender; uint256 sigDeadline; }',
  'struct AllowanceTransferDetails { address from; address to; uint160 amount; address token; }',
  'struct TokenPermissions { address token; uint256 amount; }',
  'struct PermitTransferFrom { TokenPermissions permitted; uint256 nonce; uint256 deadline; }',
  'struct PermitBatchTransferFrom { TokenPermissions[] permitted; uint256 nonce; uint256 deadline; }',
  'struct SignatureTransferDetails { address to; uint256 requestedAmount; }',
  'function approve(address token, address spender, uint160 amount, uint48 expiration)',
  'function permit(address owner, PermitSingle permitSingle, bytes signature)',
  'function permit(address owner, PermitBatch permitBatch, bytes signature)',
  'function transferFrom(address from, address to, uint160 amount, address token)',
  'function transferFrom(AllowanceTransferDetails[] transferDetails)',
  `function permitTransferFrom(PermitTransferFrom permit, SignatureTransferDetails transferDetails, \
address owner, bytes signature)`,
  `function permitTransferFrom(PermitBatchTransferFrom permit, \
SignatureTransferDetails[] transferDetails, address owner, bytes signature)`,
]);

/** SwapRouter02 (no deadline in the params) and the original SwapRouter (deadline in each), with their helpers. */
export const UNISWAP_V3_ABI = parseAbi([
  `struct ExactInputSingleParams { address tokenIn; address tokenOut; uint24 fee; address recipient; \
uint256 amountIn; uint256 amountOutMinimum; uint160 sqrtPriceLimitX96; }`,
  'struct ExactInputParams { bytes path; address recipient; uint256 amountIn; uint256 amountOutMinimum; }',
  `struct ExactOutputSingleParams { address tokenIn; address tokenOut; uint24 fee; address recipient; \
uint256 amountOut; uint256 amountInMaximum; uint160 sqrtPriceLimitX96; }`,
  'struct ExactOutputParams { bytes path; address recipient; uint256 amountOut; uint256 amountInMaximum; }',
  `struct V1ExactInputSingleParams { address tokenIn; address tokenOut; uint24 fee; address recipient; \
uint256 deadline; uint256 amountIn; uint256 amountOutMinimum; uint160 sqrtPriceLimitX96; }`,
  `struct V1ExactInputParams { bytes path; address recipient; uint256 deadline; uint256 amountIn; \
uint256 amountOutMinimum; }`,
  `struct V1ExactOutputSingleParams { address tokenIn; address tokenOut; uint24 fee; \
address recipient; uint256 deadline; uint256 amountOut; uint256 amountInMaximum; uint160 sqrtPriceLimitX96; }`,
  `struct V1ExactOutputParams { bytes path; address recipient; uint256 deadline; uint256 amountOut; \
uint256 amountInMaximum; }`,
  'function exactInputSingle(ExactInputSingleParams params) payable returns (uint256)',
  'function exactInput(ExactInputParams params) payable returns (uint256)',
  'function exactOutputSingle(ExactOutputSingleParams params) payable returns (uint256)',
  'function exactOutput(ExactOutputParams params) payable returns (uint256)',
  'function exactInputSingle(V1ExactInputSingleParams params) payable returns (uint256)',
  'function exactInput(V1ExactInputParams params) payable returns (uint256)',
  'function exactOutputSingle(V1ExactOutputSingleParams params) payable returns (uint256)',
  'function exactOutput(V1ExactOutputParams params) payable returns (uint256)',
  'function multicall(bytes[] data) payable returns (bytes[])',
  'function multicall(uint256 deadline, bytes[] data) payable returns (bytes[])',
  'function refundETH() payable',
  'function unwrapWETH9(uint256 amountMinimum, address recipient) payable',
  'function unwrapWETH9(uint256 amountMinimum) payable',
  'function sweepToken(address token, uint256 amountMinimum, address recipient) payable',
  'function sweepToken(address token, uint256 amountMinimum) payable',
]);

export const AAVE_V3_ABI = parseAbi([
  'function supply(address asset, uint256 amount, address onBehalfOf, uint16 referralCode)',
  'function deposit(address asset, uint256 amount, address onBehalfOf, uint16 referralCode)',
  'function withdraw(address asset, uint256 amount, address to) returns (uint256)',
  'function borrow(address asset, uint256 amount, uint256 interestRateMode, uint16 referralCode, address onBehalfOf)',
  'function repay(address asset, uint256 amount, uint256 interestRateMode, address onBehalfOf) returns (uint256)',
]);

type Args = readonly unknown[];
type Reader = (args: Args, to: Address) => Intent[] | string;
interface Entry {
  protocol: Protocol;
  item: AbiFunction;
  read: Reader;
}

const SENDER = '0x0000000000000000000000000000000000000001';
const THIS_ROUTER = '0x0000000000000000000000000000000000000002';

const intent = (i: Omit<Intent, 'deadlines'> & { deadlines?: Intent['deadlines'] }): Intent => ({
  deadlines: [],
  ...i,
});

function erc20Readers(): Record<string, Reader> {
  const move = (fn: string, recipient: unknown, amount: unknown, to: Address): Intent[] => [
    intent({
      protocol: 'erc20',
      fn,
      kind: 'transfer',
      tokens: [to],
      counterparty: { role: 'recipient', address: recipient as Address },
      amount: amount as bigint,
      amountToken: to,
    }),
  ];
  const grant = (fn: string, spender: unknown, amount: bigint, to: Address, extra: Partial<Intent> = {}): Intent[] => [
    intent({
      protocol: 'erc20',
      fn,
      kind: 'allowance',
      tokens: [to],
      counterparty: { role: 'spender', address: spender as Address },
      amount,
      amountToken: to,
      unlimited: amount === MAX_UINT256,
      ...extra,
    }),
  ];
  return {
    'transfer(address,uint256)': (a, to) => move('transfer', a[0], a[1], to),
    'transferFrom(address,address,uint256)': (a, to) => move('transferFrom', a[1], a[2], to),
    'approve(address,uint256)': (a, to) => grant('approve', a[0], a[1] as bigint, to),
    'increaseAllowance(address,uint256)': (a, to) => grant('increaseAllowance', a[0], a[1] as bigint, to),
    'permit(address,address,uint256,uint256,uint8,bytes32,bytes32)': (a, to) =>
      grant('permit', a[1], a[2] as bigint, to, { deadlines: [{ field: 'deadline', value: a[3] as bigint }] }),
    // DAI: allowed=true grants an unlimited allowance, false revokes it.
    'permit(address,address,uint256,uint256,bool,uint8,bytes32,bytes32)': (a, to) =>
      grant('permit', a[1], a[4] ? MAX_UINT256 : 0n, to, { deadlines: [{ field: 'expiry', value: a[3] as bigint }] }),
  };
}

interface PermitDetails {
  token: Address;
  amount: bigint;
  expiration: number;
}

function permit2Readers(): Record<string, Reader> {
  const grant = (fn: string, d: PermitDetails, spender: Address, sigDeadline?: bigint, at = 'details'): Intent =>
    intent({
      protocol: 'permit2',
      fn,
      kind: 'allowance',
      tokens: [d.token],
      counterparty: { role: 'spender', address: spender },
      amount: d.amount,
      amountToken: d.token,
      unlimited: d.amount >= MAX_UINT160,
      deadlines: [
        { field: `${at}.expiration`, value: BigInt(d.expiration) },
        ...(sigDeadline === undefined ? [] : [{ field: 'sigDeadline', value: sigDeadline }]),
      ],
    });
  const move = (fn: string, token: Address, recipient: Address, amount: bigint, deadline?: bigint): Intent =>
    intent({
      protocol: 'permit2',
      fn,
      kind: 'transfer',
      tokens: [token],
      counterparty: { role: 'recipient', address: recipient },
      amount,
      amountToken: token,
      deadlines: deadline === undefined ? [] : [{ field: 'deadline', value: deadline }],
    });
  type Single = { details: PermitDetails; spender: Address; sigDeadline: bigint };
  type Batch = { details: PermitDetails[]; spender: Address; sigDeadline: bigint };
  type Moves = { from: Address; to: Address; amount: bigint; token: Address }[];
  type Permitted = { token: Address; amount: bigint };
  type SigTransfer = { to: Address; requestedAmount: bigint };
  return {
    'approve(address,address,uint160,uint48)': (a) => [
      grant(
        'approve',
        { token: a[0] as Address, amount: a[2] as bigint, expiration: a[3] as number },
        a[1] as Address,
        undefined,
        'approve',
      ),
    ],
    'permit(address,((address,uint160,uint48,uint48),address,uint256),bytes)': (a) => {
      const p = a[1] as Single;
      return [grant('permit', p.details, p.spender, p.sigDeadline)];
    },
    'permit(address,((address,uint160,uint48,uint48)[],address,uint256),bytes)': (a) => {
      const p = a[1] as Batch;
      if (p.details.length === 0) return 'a Permit2 batch permit with no details';
      return p.details.map((d, i) => grant('permit', d, p.spender, p.sigDeadline, `details[${i}]`));
    },
    'transferFrom(address,address,uint160,address)': (a) => [
      move('transferFrom', a[3] as Address, a[1] as Address, a[2] as bigint),
    ],
    'transferFrom((address,address,uint160,address)[])': (a) => {
      const moves = a[0] as Moves;
      if (moves.length === 0) return 'a Permit2 batch transferFrom with no transfers';
      return moves.map((m) => move('transferFrom', m.token, m.to, m.amount));
    },
    'permitTransferFrom(((address,uint256),uint256,uint256),(address,uint256),address,bytes)': (a) => {
      const p = a[0] as { permitted: Permitted; deadline: bigint };
      const t = a[1] as SigTransfer;
      return [move('permitTransferFrom', p.permitted.token, t.to, t.requestedAmount, p.deadline)];
    },
    'permitTransferFrom(((address,uint256)[],uint256,uint256),(address,uint256)[],address,bytes)': (a) => {
      const p = a[0] as { permitted: Permitted[]; deadline: bigint };
      const t = a[1] as SigTransfer[];
      if (p.permitted.length === 0 || p.permitted.length !== t.length)
        return 'a Permit2 batch transfer whose permitted tokens and transfer details do not pair up';
      return t.map((d, i) => move('permitTransferFrom', p.permitted[i]!.token, d.to, d.requestedAmount, p.deadline));
    },
  };
}

/** A V3 path: token, then (fee, token) hops. Exact-output paths run from the token out to the token in. */
function pathTokens(path: Hex): Address[] | string {
  const bytes = (path.length - 2) / 2;
  if (bytes < 43 || (bytes - 20) % 23 !== 0) return `a swap path of ${bytes} bytes is no V3 path (20 + 23k bytes)`;
  const tokens: Address[] = [];
  for (let at = 2; at < path.length; at += 46) tokens.push(getAddress(`0x${path.slice(at, at + 40)}`));
  return tokens;
}

function uniswapReaders(): Record<string, Reader> {
  const recipientOf = (address: Address, router: Address): Counterparty =>
    address.toLowerCase() === SENDER
      ? { role: 'recipient', address, isSender: true }
      : { role: 'recipient', address: address.toLowerCase() === THIS_ROUTER ? router : address };
  type P = {
    tokenIn?: Address;
    tokenOut?: Address;
    path?: Hex;
    recipient: Address;
    deadline?: bigint;
    amountIn?: bigint;
    amountOutMinimum?: bigint;
    amountOut?: bigint;
    amountInMaximum?: bigint;
  };
  const swap =
    (fn: string, exact: 'input' | 'output'): Reader =>
    (a, router) => {
      const p = a[0] as P;
      let tokens: Address[];
      if (p.path !== undefined) {
        const parsed = pathTokens(p.path);
        if (typeof parsed === 'string') return parsed;
        tokens = exact === 'input' ? parsed : [...parsed].reverse();
      } else tokens = [p.tokenIn!, p.tokenOut!];
      return [
        intent({
          protocol: 'uniswap_v3',
          fn,
          kind: 'swap',
          tokens,
          counterparty: recipientOf(p.recipient, router),
          amount: exact === 'input' ? p.amountIn! : p.amountInMaximum!,
          amountToken: tokens[0]!,
          swap: exact === 'input' ? { exact, limit: p.amountOutMinimum! } : { exact, limit: p.amountInMaximum! },
          deadlines: p.deadline === undefined ? [] : [{ field: 'params.deadline', value: p.deadline }],
        }),
      ];
    };
  const sweep = (fn: string, token: Address | undefined, recipient: Address, router: Address): Intent[] => [
    intent({
      protocol: 'uniswap_v3',
      fn,
      kind: 'sweep',
      tokens: token ? [token] : [],
      counterparty: recipientOf(recipient, router),
    }),
  ];
  const readers: Record<string, Reader> = {
    'refundETH()': () => [intent({ protocol: 'uniswap_v3', fn: 'refundETH', kind: 'sweep', tokens: [] })],
    'unwrapWETH9(uint256,address)': (a, r) => sweep('unwrapWETH9', undefined, a[1] as Address, r),
    'unwrapWETH9(uint256)': (_a, r) => sweep('unwrapWETH9', undefined, SENDER, r),
    'sweepToken(address,uint256,address)': (a, r) => sweep('sweepToken', a[0] as Address, a[2] as Address, r),
    'sweepToken(address,uint256)': (a, r) => sweep('sweepToken', a[0] as Address, SENDER, r),
  };
  for (const v1 of [false, true]) {
    const d = v1 ? 'uint256,' : '';
    readers[`exactInputSingle((address,address,uint24,address,${d}uint256,uint256,uint160))`] = swap(
      'exactInputSingle',
      'input',
    );
    readers[`exactInput((bytes,address,${d}uint256,uint256))`] = swap('exactInput', 'input');
    readers[`exactOutputSingle((address,address,uint24,address,${d}uint256,uint256,uint160))`] = swap(
      'exactOutputSingle',
      'output',
    );
    readers[`exactOutput((bytes,address,${d}uint256,uint256))`] = swap('exactOutput', 'output');
  }
  // multicall unwraps into its calls, each decoded and judged; see readMulticall.
  return readers;
}

function aaveReaders(): Record<string, Reader> {
  const op =
    (fn: Intent['kind'], name: string, role: Counterparty['role'], who: number, mode?: number): Reader =>
    (a) => [
      intent({
        protocol: 'aave_v3',
        fn: name,
        kind: fn,
        tokens: [a[0] as Address],
        counterparty: { role, address: a[who] as Address },
        amount: a[1] as bigint,
        amountToken: a[0] as Address,
        ...(mode === undefined ? {} : { interestRateMode: a[mode] as bigint }),
      }),
    ];
  return {
    'supply(address,uint256,address,uint16)': op('supply', 'supply', 'onBehalfOf', 2),
    'deposit(address,uint256,address,uint16)': op('supply', 'deposit', 'onBehalfOf', 2),
    'withdraw(address,uint256,address)': op('withdraw', 'withdraw', 'to', 2),
    'borrow(address,uint256,uint256,uint16,address)': op('borrow', 'borrow', 'onBehalfOf', 4, 2),
    'repay(address,uint256,uint256,address)': op('repay', 'repay', 'onBehalfOf', 3, 2),
  };
}

function signatureOf(item: AbiFunction): string {
  const type = (p: AbiFunction['inputs'][number]): string => {
    const c = (p as { components?: AbiFunction['inputs'] }).components;
    if (!c) return p.type;
    return `(${c.map(type).join(',')})${p.type.slice('tuple'.length)}`;
  };
  return `${item.name}(${item.inputs.map(type).join(',')})`;
}

/** selector → decoder, built once from the ABIs: a reader without its ABI item (or the reverse) fails at load. */
const REGISTRY: Map<string, Entry> = (() => {
  const map = new Map<string, Entry>();
  const add = (protocol: Protocol, abi: Abi, readers: Record<string, Reader>, skip: string[] = []) => {
    const items = abi.filter((x): x is AbiFunction => x.type === 'function');
    for (const item of items) {
      const sig = signatureOf(item);
      if (skip.includes(item.name)) continue;
      const read = readers[sig];
      if (!read) continue; // read-only ERC-20 functions (balanceOf, …) move nothing and are not decoded
      map.set(toFunctionSelector(item), { protocol, item, read });
      delete readers[sig];
    }
    const unused = Object.keys(readers);
    if (unused.length) throw new Error(`calldata readers without an ABI item: ${unused.join(', ')}`);
  };
  add('erc20', [...ERC20_ABI, ...PERMIT_ABI], erc20Readers());
  add('permit2', PERMIT2_ABI, permit2Readers());
  add('uniswap_v3', UNISWAP_V3_ABI, uniswapReaders(), ['multicall']);
  add('aave_v3', AAVE_V3_ABI, aaveReaders());
  return map;
})();

const MULTICALL = new Map<Hex, AbiFunction>(
  (UNISWAP_V3_ABI as Abi)
    .filter((x): x is AbiFunction => x.type === 'function' && x.name === 'multicall')
    .map((item) => [toFunctionSelector(item), item]),
);

/** The call, an error when a known selector does not decode, or undefined for an unknown selector. */
export function decodeCalldata(to: Address, data: Hex): Decoded {
  const selector = data.slice(0, 10).toLowerCase() as Hex;
  const multicall = MULTICALL.get(selector);
  if (multicall) return readMulticall(to, data, multicall);
  const entry = REGISTRY.get(selector);
  if (!entry) return undefined;
  const args = decodeExactly(entry.item, data);
  if (typeof args === 'string') return { error: args };
  const intents = entry.read(args, getAddress(to));
  if (typeof intents === 'string') return { error: intents };
  return { selector, protocol: entry.protocol, fn: entry.item.name, intents };
}

/** Decodes, then re-encodes: calldata is accepted only in the one encoding its arguments have. */
function decodeExactly(item: AbiFunction, data: Hex): Args | string {
  const name = signatureOf(item);
  let args: Args;
  try {
    args = (decodeFunctionData({ abi: [item], data }).args ?? []) as Args;
  } catch (err) {
    return `${name} calldata does not decode: ${messageOf(err).split('\n')[0]}`;
  }
  let again: Hex;
  try {
    again = encodeFunctionData({ abi: [item], functionName: item.name, args } as never);
  } catch (err) {
    return `${name} calldata does not re-encode: ${messageOf(err).split('\n')[0]}`;
  }
  if (again.toLowerCase() !== data.toLowerCase())
    return `${name} calldata is not the canonical encoding of its arguments (${again.length / 2 - 1} bytes)`;
  return args;
}

/** A router multicall: every inner call must be one the Uniswap decoder reads; nothing else rides inside. */
function readMulticall(to: Address, data: Hex, item: AbiFunction): Decoded {
  const args = decodeExactly(item, data);
  if (typeof args === 'string') return { error: args };
  const inner = (args.length === 2 ? args[1] : args[0]) as readonly Hex[];
  if (inner.length === 0) return { error: 'a multicall with no calls' };
  const intents: Intent[] = [];
  for (const [i, call] of inner.entries()) {
    const entry = REGISTRY.get(call.slice(0, 10).toLowerCase());
    if (!entry || entry.protocol !== 'uniswap_v3')
      return {
        error: `multicall call ${i} (selector ${call.slice(0, 10)}) is no Uniswap V3 router call the decoder reads`,
      };
    const a = decodeExactly(entry.item, call);
    if (typeof a === 'string') return { error: `multicall call ${i}: ${a}` };
    const read = entry.read(a, getAddress(to));
    if (typeof read === 'string') return { error: `multicall call ${i}: ${read}` };
    intents.push(...read);
  }
  if (args.length === 2) intents[0]!.deadlines.push({ field: 'multicall.deadline', value: args[0] as bigint });
  return { selector: data.slice(0, 10).toLowerCase() as Hex, protocol: 'uniswap_v3', fn: 'multicall', intents };
}

/** A decoded call as JSON: amounts as decimal strings. */
export function intentJson(call: DecodedCall): Record<string, unknown> {
  return JSON.parse(JSON.stringify(call, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))) as Record<
    string,
    unknown
  >;
}
