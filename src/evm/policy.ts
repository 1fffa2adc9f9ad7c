// The signing policy of `agentkeys mcp`: deny by default. A policy names what an agent may have
// signed (chains, contracts, selectors, value and fees, EIP-712 domains and deadlines, and per
// protocol the tokens, counterparties and amounts of decoded calldata); every refusal names the
// rule that refused it. The file formats are parsed in policy-files.ts.
import type { Address, Hex, TransactionSerializable } from 'viem';
import { duplicateMember } from '../audit/canonical.js';
import { UsageError } from '../errors.js';
import { decodeCalldata, intentJson, MAX_UINT160, MAX_UINT256, type DecodedCall, type Intent } from './calldata.js';
import { parsePolicy, type DomainRule, type EvmPolicy, type ProtocolRule } from './policy-files.js';
import type { TypedDataInput } from './operations.js';
import { messageOf, readOperatorText } from '../sys/operator-file.js';

export { parsePolicy, DEFAULT_MAX_FEE_WEI, DEFAULT_MAX_PRIORITY_FEE_PER_GAS_WEI } from './policy-files.js';
export type { EvmPolicy, PolicyFormat } from './policy-files.js';

export type Decision = { allowed: true } | { allowed: false; rule: string; reason: string };

/** What a decision may know beyond the request: the signer, the caller's swap quote, the time. */
export interface DecideContext {
  /** The signer's address: a swap, withdrawal or Aave position for the signer itself needs no allowlisting. */
  self?: Address;
  /** The amount a swap is quoted to return (exact input) or cost (exact output), from the caller. */
  quote?: { amountOut?: bigint; amountIn?: bigint };
  nowSeconds?: number;
}

const ALLOW: Decision = { allowed: true };
const deny = (rule: string, reason: string): Decision => ({ allowed: false, rule, reason });
const NO_POLICY = deny('no-policy', 'no --policy was given: signing is denied by default');

export async function readPolicyFile(file: string): Promise<EvmPolicy> {
  const text = await readOperatorText(file, {
    code: 'POLICY_NOT_FOUND',
    what: 'policy file',
    hint: 'pass --policy with an existing JSON file (docs/evm-policy.md)',
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError({
      code: 'POLICY_INVALID',
      message: `policy file ${file} is not JSON: ${messageOf(err)}`,
      cause: err,
    });
  }
  const dup = duplicateMember(text);
  if (dup !== undefined)
    throw new UsageError({
      code: 'POLICY_INVALID',
      message: `policy file ${file} names ${JSON.stringify(dup)} twice in one object`,
      hint: 'a policy means one thing: remove the repeated field',
    });
  return parsePolicy(json, file);
}

export function decideMessage(policy: EvmPolicy | undefined): Decision {
  if (!policy) return NO_POLICY;
  return policy.signMessage ? ALLOW : deny('signMessage', 'the policy does not allow personal_sign messages');
}

export function decideTransaction(
  policy: EvmPolicy | undefined,
  tx: TransactionSerializable,
  ctx: DecideContext = {},
): Decision {
  return evaluateTransaction(policy, tx, ctx).decision;
}

/** The decision and what the calldata was decoded to (for `simulate` and `evm simulate`). */
export function evaluateTransaction(
  policy: EvmPolicy | undefined,
  tx: TransactionSerializable,
  ctx: DecideContext = {},
): { decision: Decision; decoded?: DecodedCall } {
  const data = tx.data ?? '0x';
  const decoded = tx.to && data !== '0x' ? decodeCalldata(tx.to, data) : undefined;
  const call = decoded && !('error' in decoded) ? decoded : undefined;
  const decision = decide(policy, tx, ctx, decoded);
  return call ? { decision, decoded: call } : { decision };
}

/** What a dry run judges: a message, typed data or a transaction, already parsed. */
export type SimulationInput =
  { message: true } | { typedData: TypedDataInput } | { transaction: TransactionSerializable };

/** The decision a signing call would get, and the decoded calldata as JSON: `simulate` and `evm simulate`. */
export function simulateDecision(
  policy: EvmPolicy | undefined,
  input: SimulationInput,
  ctx: DecideContext = {},
): { decision: Decision; decoded?: Record<string, unknown> } {
  if ('message' in input) return { decision: decideMessage(policy) };
  if ('typedData' in input) return { decision: decideTypedData(policy, input.typedData, ctx.nowSeconds) };
  const r = evaluateTransaction(policy, input.transaction, ctx);
  return { decision: r.decision, ...(r.decoded ? { decoded: intentJson(r.decoded) } : {}) };
}

function decide(
  policy: EvmPolicy | undefined,
  tx: TransactionSerializable,
  ctx: DecideContext,
  decoded: ReturnType<typeof decodeCalldata>,
): Decision {
  if (!policy) return NO_POLICY;
  if (!policy.chainIds.has(tx.chainId!)) return deny('chainIds', `chain ${tx.chainId} is not in the policy's chainIds`);
  if (!tx.to) return deny('contracts', 'contract creation (no "to") is not allowed');
  if (!policy.contracts.has(tx.to.toLowerCase())) return deny('contracts', `${tx.to} is not in the policy's contracts`);
  const data = tx.data ?? '0x';
  if (decoded && 'error' in decoded) return deny('calldata', decoded.error);
  const verdict = decoded ? decideDecoded(policy, decoded, ctx) : decideRawSelector(policy, data);
  if (!verdict.allowed) return verdict;
  if ((tx.value ?? 0n) > policy.maxValueWei)
    return deny('maxValueWei', `value ${tx.value} wei exceeds maxValueWei ${policy.maxValueWei}`);
  return decideFees(policy, tx);
}

function decideRawSelector(policy: EvmPolicy, data: Hex): Decision {
  if (data === '0x') return ALLOW;
  const selector = data.slice(0, 10).toLowerCase();
  if (data.length >= 10 && policy.selectors.has(selector)) return ALLOW;
  const what = data.length < 10 ? '(data shorter than 4 bytes)' : selector;
  return deny('selectors', `function selector ${what} is no call the decoders read, and not in the policy's selectors`);
}

function decideDecoded(policy: EvmPolicy, call: DecodedCall, ctx: DecideContext): Decision {
  // Agentic Vault's reading: the selector list gates decoded calls too (a multicall by its own selector).
  if (policy.selectorsGateDecoded && !policy.selectors.has(call.selector))
    return deny(
      'selectors',
      `function selector ${call.selector} (${call.protocol} ${call.fn}) is not in allowedSelectors`,
    );
  const swaps = call.intents.filter((i) => i.swap).length;
  for (const intent of call.intents) {
    const verdict = judgeIntent(policy, intent, ctx, swaps);
    if (!verdict.allowed) return verdict;
  }
  return ALLOW;
}

/** One effect of a decoded call, judged by its protocol's section; without one, it is refused. */
function judgeIntent(policy: EvmPolicy, it: Intent, ctx: DecideContext, swaps: number): Decision {
  const p = it.protocol;
  const rule = policy.protocols[p];
  if (!rule) return deny(`protocolPolicies.${p}`, `a ${p} ${it.fn} needs a protocolPolicies.${p} section`);
  for (const token of it.tokens)
    if (rule.tokens && !rule.tokens.has(token.toLowerCase()))
      return deny(`${p}.tokenAllowlist`, `${it.fn}: token ${token} is not in the ${p} tokenAllowlist`);
  const c = it.counterparty;
  const own =
    c && c.role !== 'spender' && (c.isSender || (ctx.self && c.address.toLowerCase() === ctx.self.toLowerCase()));
  if (c && !own && rule.recipients && !rule.recipients.has(c.address.toLowerCase()))
    return deny(
      `${p}.recipientAllowlist`,
      `${it.fn} to ${c.role} ${c.address}, which is not in the ${p} recipientAllowlist`,
    );
  const amounts = judgeAmount(rule, it);
  if (!amounts.allowed) return amounts;
  if (
    it.interestRateMode !== undefined &&
    rule.maxInterestRateMode !== undefined &&
    it.interestRateMode > rule.maxInterestRateMode
  )
    return deny(
      `${p}.maxInterestRateMode`,
      `${it.fn} with interestRateMode ${it.interestRateMode} (over ${rule.maxInterestRateMode})`,
    );
  if (it.swap) {
    const slippage = judgeSlippage(rule, it.swap, ctx, swaps);
    if (!slippage.allowed) return slippage;
  }
  return judgeDeadlines(
    policy,
    it.deadlines.map((d) => [d.field, d.value]),
    ctx.nowSeconds,
  );
}

function judgeAmount(rule: ProtocolRule, it: Intent): Decision {
  if (it.amount === undefined) return ALLOW;
  const p = it.protocol;
  const caps = it.amountToken ? rule.perToken.get(it.amountToken.toLowerCase()) : undefined;
  if (it.kind === 'allowance') {
    if (it.unlimited && !rule.allowUnlimitedApproval)
      return deny(`${p}.allowUnlimitedApproval`, `${it.fn} of an unlimited allowance to ${it.counterparty?.address}`);
    const cap = caps?.maxAllowanceWei ?? rule.maxAllowanceWei;
    if (cap !== undefined && it.amount > cap && !(it.unlimited && rule.allowUnlimitedApproval))
      return deny(`${p}.maxAllowanceWei`, `${it.fn} of ${it.amount} exceeds ${cap}`);
    return ALLOW;
  }
  const cap = caps?.maxAmountWei ?? rule.maxAmountWei;
  if (cap !== undefined && it.amount > cap) return deny(`${p}.maxAmountWei`, `${it.fn} of ${it.amount} exceeds ${cap}`);
  return ALLOW;
}

/**
 * A swap's own limit (amountOutMinimum, amountInMaximum) against the caller's quote: within
 * maxSlippageBps of it. The quote comes from the caller, so this stops a careless agent, not a
 * lying one; the token, recipient and amount caps stop the lying one.
 */
function judgeSlippage(
  rule: ProtocolRule,
  swap: NonNullable<Intent['swap']>,
  ctx: DecideContext,
  swaps: number,
): Decision {
  const bps = rule.maxSlippageBps;
  if (bps === undefined)
    return rule.requireSlippage
      ? deny(
          'uniswap_v3.maxSlippageBps',
          'a swap needs a slippage bound: the uniswap_v3 section sets no maxSlippageBps',
        )
      : ALLOW;
  if (swap.exact === 'input' && swap.limit === 0n)
    return deny('uniswap_v3.maxSlippageBps', 'amountOutMinimum is 0: the swap has no slippage protection');
  const quote = swap.exact === 'input' ? ctx.quote?.amountOut : ctx.quote?.amountIn;
  const name = swap.exact === 'input' ? 'amountOut' : 'amountIn';
  if (quote === undefined)
    return deny('uniswap_v3.maxSlippageBps', `a swap is judged against a quote: pass quote.${name} with the call`);
  if (swaps > 1) return deny('uniswap_v3.maxSlippageBps', `one quote bounds one swap, and this call holds ${swaps}`);
  const b = BigInt(bps);
  if (swap.exact === 'input') {
    const floor = (quote * (10_000n - b) + 9_999n) / 10_000n;
    if (swap.limit < floor)
      return deny(
        'uniswap_v3.maxSlippageBps',
        `amountOutMinimum ${swap.limit} is below ${floor} (quote ${quote} less ${bps} bps)`,
      );
  } else {
    const ceiling = (quote * (10_000n + b)) / 10_000n;
    if (swap.limit > ceiling)
      return deny(
        'uniswap_v3.maxSlippageBps',
        `amountInMaximum ${swap.limit} is above ${ceiling} (quote ${quote} plus ${bps} bps)`,
      );
  }
  return ALLOW;
}

/**
 * The value cap bounds what a signature sends; this bounds what it burns or tips: gas times the
 * highest price per gas the transaction allows, and the tip per gas on its own.
 */
function decideFees(policy: EvmPolicy, tx: TransactionSerializable): Decision {
  type Fees = { gas?: bigint | undefined; gasPrice?: bigint | undefined };
  const t = tx as Fees & { maxFeePerGas?: bigint | undefined; maxPriorityFeePerGas?: bigint | undefined };
  const tipCap = policy.maxPriorityFeePerGasWei;
  if ((t.maxPriorityFeePerGas ?? 0n) > tipCap)
    return deny('maxPriorityFeePerGasWei', `maxPriorityFeePerGas ${t.maxPriorityFeePerGas} wei exceeds ${tipCap}`);
  const perGas = t.maxFeePerGas ?? t.gasPrice ?? 0n;
  const fee = (t.gas ?? 0n) * perGas;
  if (fee > policy.maxFeeWei)
    return deny(
      'maxFeeWei',
      `the fee can reach ${fee} wei (gas ${t.gas ?? 0n} × ${perGas} per gas), over ${policy.maxFeeWei}`,
    );
  return ALLOW;
}

// Field names that EIP-2612, Permit2 and common order formats use for "valid until".
const DEADLINE_FIELDS = new Set([
  'deadline',
  'expiry',
  'expiration',
  'validbefore',
  'validuntil',
  'sigdeadline',
  'endtime',
]);

export function decideTypedData(
  policy: EvmPolicy | undefined,
  data: TypedDataInput,
  nowSeconds = Math.floor(Date.now() / 1000),
): Decision {
  if (!policy) return NO_POLICY;
  const domain = data.domain;
  if (domain.chainId !== undefined && !policy.chainIds.has(Number(domain.chainId)))
    return deny('chainIds', `typed-data domain chain ${String(domain.chainId)} is not in the policy's chainIds`);
  if (!policy.typedDataDomains.some((rule) => domainMatches(rule, domain)))
    return deny('typedDataDomains', `domain ${JSON.stringify(domain)} matches none of the policy's typedDataDomains`);
  const deadline = judgeDeadlines(policy, deadlines(data), nowSeconds);
  if (!deadline.allowed) return deadline;
  return judgePermitMessage(policy, data);
}

function judgeDeadlines(
  policy: EvmPolicy,
  found: [string, unknown][],
  nowSeconds = Math.floor(Date.now() / 1000),
): Decision {
  if (policy.maxDeadlineSeconds === undefined) return ALLOW;
  const limit = BigInt(nowSeconds + policy.maxDeadlineSeconds);
  for (const [field, value] of found) {
    let at: bigint;
    try {
      at = BigInt(value as string);
    } catch {
      return deny('maxDeadlineSeconds', `${field} "${String(value)}" is not a number of seconds`);
    }
    if (at === 0n && !policy.allowNoExpiry)
      return deny('maxDeadlineSeconds', `${field} is 0, which DAI-style permits read as "never expires"`);
    if (at > limit)
      return deny('maxDeadlineSeconds', `${field} ${at} is more than ${policy.maxDeadlineSeconds}s from now`);
  }
  return ALLOW;
}

/**
 * A signed permit grants what an approve grants. EIP-2612/DAI `Permit` and Permit2's
 * `PermitSingle`/`PermitBatch` are judged as allowances by the erc20 or permit2 section when the
 * policy has one (and by Agentic Vault's maxAmountWei in its format).
 */
function judgePermitMessage(policy: EvmPolicy, data: TypedDataInput): Decision {
  const m = data.message;
  const token = String(data.domain.verifyingContract ?? '') as Address;
  const grants: Intent[] = [];
  const grant = (protocol: 'erc20' | 'permit2', tok: unknown, spender: unknown, amount: bigint, unlimited: boolean) =>
    grants.push({
      protocol,
      fn: `${data.primaryType} (signed)`,
      kind: 'allowance',
      tokens: [String(tok) as Address],
      counterparty: { role: 'spender', address: String(spender) as Address },
      amount,
      amountToken: String(tok) as Address,
      unlimited,
      deadlines: [],
    });
  const num = (v: unknown): bigint | undefined => {
    try {
      return BigInt(v as string);
    } catch {
      return undefined;
    }
  };
  if (data.primaryType === 'Permit' && m.spender !== undefined) {
    const value = m.allowed !== undefined ? (m.allowed === true ? MAX_UINT256 : 0n) : num(m.value);
    if (value === undefined) return deny('calldata', 'the Permit value is not a number');
    if (policy.maxPermitValueWei !== undefined && value > policy.maxPermitValueWei)
      return deny('maxAmountWei', `the Permit value ${value} exceeds maxAmountWei ${policy.maxPermitValueWei}`);
    grant('erc20', token, m.spender, value, value === MAX_UINT256);
  } else if ((data.primaryType === 'PermitSingle' || data.primaryType === 'PermitBatch') && m.spender !== undefined) {
    const details = (Array.isArray(m.details) ? m.details : [m.details]) as Record<string, unknown>[];
    for (const d of details) {
      const amount = num(d?.amount);
      if (amount === undefined) return deny('calldata', `a ${data.primaryType} amount is not a number`);
      grant('permit2', d.token, m.spender, amount, amount >= MAX_UINT160);
    }
  }
  for (const g of grants) {
    const rule = policy.protocols[g.protocol];
    if (!rule) continue; // without a section, the domain rule (and deadlines) decide, as before
    const { maxDeadlineSeconds: _deadlinesAreJudgedAbove, ...withoutDeadline } = policy;
    const verdict = judgeIntent(withoutDeadline, g, {}, 0);
    if (!verdict.allowed) return verdict;
  }
  return ALLOW;
}

function domainMatches(rule: DomainRule, domain: Record<string, unknown>): boolean {
  for (const [key, expected] of Object.entries(rule)) {
    const actual = domain[key];
    if (actual === undefined) return false;
    if (key === 'verifyingContract') {
      if (String(actual).toLowerCase() !== String(expected).toLowerCase()) return false;
    } else if (key === 'chainId') {
      if (Number(actual) !== expected) return false;
    } else if (actual !== expected) return false;
  }
  return true;
}

/**
 * Deadline-like fields at any depth, arrays of structs included, found by walking the types (what
 * the hash covers) rather than the message object: a field the policy reads is one that is signed.
 */
function deadlines(data: TypedDataInput): [string, unknown][] {
  const out: [string, unknown][] = [];
  const walk = (type: string, value: unknown, at: string, depth: number): void => {
    if (depth > 32) return; // parseTypedData has checked the types; this only bounds recursion
    const array = /^(.*)\[\d*\]$/.exec(type);
    if (array) {
      if (Array.isArray(value)) value.forEach((v, i) => walk(array[1]!, v, `${at}[${i}]`, depth + 1));
      return;
    }
    const fields = data.types[type];
    if (!fields || typeof value !== 'object' || value === null) return;
    for (const f of fields) {
      const path = at ? `${at}.${f.name}` : f.name;
      const v = (value as Record<string, unknown>)[f.name];
      if (DEADLINE_FIELDS.has(f.name.toLowerCase()) && !data.types[f.type]) out.push([path, v]);
      else walk(f.type, v, path, depth + 1);
    }
  };
  walk(data.primaryType, data.message, '', 0);
  return out;
}
