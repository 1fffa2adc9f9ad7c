// The signing policy of `agentkeys mcp`: deny by default. The file names what an agent may have
// signed (chains, recipients, selectors, value, EIP-712 domains and deadlines); every refusal
// names the rule that refused it. The file is operator input and is parsed strictly.
import { promises as fsp } from 'node:fs';
import type { Address, TransactionSerializable } from 'viem';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { checksumAddress } from './secp256k1.js';
import type { TypedDataInput } from './operations.js';
import { decodeCalldata, MAX_UINT256, type Erc20Call } from './calldata.js';

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an address (0x + 40 hex)');
const chainId = z.number().int().positive();

const DomainRule = z
  .object({
    name: z.string().optional(),
    version: z.string().optional(),
    chainId: chainId.optional(),
    verifyingContract: address.optional(),
    salt: z
      .string()
      .regex(/^0x[0-9a-fA-F]{64}$/)
      .optional(),
  })
  .strict();

const weiString = z.string().regex(/^\d+$/, 'a decimal string of wei');

/** ERC-20 calls decoded from calldata (issue 22): tokens, counterparties and amounts, fail-closed. */
const Erc20Rule = z
  .object({
    /** Tokens (the transaction's `to`) whose calls may be signed; absent: any listed in contracts. */
    tokenAllowlist: z.array(address).optional(),
    /** Recipients of transfers and spenders of allowances; absent: none. */
    recipientAllowlist: z.array(address).optional(),
    /** Largest transfer (transfer, transferFrom); absent: maxAllowanceWei, as Agentic Vault reads it. */
    maxAmountWei: weiString.optional(),
    /** Largest allowance (approve, increaseAllowance) and, without maxAmountWei, transfer; absent: 0. */
    maxAllowanceWei: weiString.optional(),
    /** approve(…, 2^256-1) is refused unless this is true (and maxAllowanceWei allows it). */
    allowUnlimitedApproval: z.boolean().optional(),
  })
  .strict();

const PolicySchema = z
  .object({
    version: z.literal(1),
    description: z.string().optional(),
    /** EIP-191 personal_sign of arbitrary messages. */
    signMessage: z.boolean().optional(),
    chainIds: z.array(chainId).optional(),
    /** Allowed `to` addresses of transactions (contracts, or plain recipients). */
    contracts: z.array(address).optional(),
    /** Allowed 4-byte function selectors in transaction data. */
    selectors: z.array(z.string().regex(/^0x[0-9a-fA-F]{8}$/, 'a 4-byte selector (0x + 8 hex)')).optional(),
    /** Largest transaction value, a decimal string of wei; absent means 0. */
    maxValueWei: z.string().regex(/^\d+$/, 'a decimal string of wei').optional(),
    /** Largest fee one transaction may pay, gas × maxFeePerGas (or gasPrice), decimal wei; default 0.01 ETH. */
    maxFeeWei: z.string().regex(/^\d+$/, 'a decimal string of wei').optional(),
    /** Largest maxPriorityFeePerGas (the tip), decimal wei; default 100 gwei. */
    maxPriorityFeePerGasWei: z.string().regex(/^\d+$/, 'a decimal string of wei').optional(),
    /** Largest EIP-712 deadline/expiry, in seconds from now. */
    maxDeadlineSeconds: z.number().int().positive().optional(),
    /** With maxDeadlineSeconds: allow a deadline of 0, which DAI's permit reads as "never expires". */
    allowNoExpiry: z.boolean().optional(),
    typedDataDomains: z.array(DomainRule).optional(),
    /** Rules for calldata the decoders understand; a decoded call is judged here, never by selectors. */
    protocolPolicies: z.object({ erc20: Erc20Rule.optional() }).strict().optional(),
  })
  .strict();

export type EvmPolicy = z.infer<typeof PolicySchema>;

export type Decision = { allowed: true } | { allowed: false; rule: string; reason: string };

const ALLOW: Decision = { allowed: true };
const deny = (rule: string, reason: string): Decision => ({ allowed: false, rule, reason });

export async function readPolicyFile(file: string): Promise<EvmPolicy> {
  let text: string;
  try {
    text = await fsp.readFile(file, 'utf8');
  } catch (err) {
    throw new UsageError({
      code: 'POLICY_NOT_FOUND',
      message: `cannot read policy file ${file}: ${(err as NodeJS.ErrnoException).code}`,
      hint: 'pass --policy with an existing JSON file (README: agentkeys mcp)',
      cause: err,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new UsageError({
      code: 'POLICY_INVALID',
      message: `policy file ${file} is not JSON: ${(err as Error).message}`,
      cause: err,
    });
  }
  return parsePolicy(json, file);
}

export function parsePolicy(json: unknown, source: string): EvmPolicy {
  const result = PolicySchema.safeParse(json);
  if (result.success) return result.data;
  const problems = result.error.issues.map((i) => {
    const at = i.path.length ? i.path.join('.') : '(top level)';
    if (i.code === 'unrecognized_keys') return `${at}: unknown field(s) ${i.keys.map((k) => `"${k}"`).join(', ')}`;
    return `${at}: ${i.message}`;
  });
  const unknown = result.error.issues.some((i) => i.code === 'unrecognized_keys');
  throw new UsageError({
    code: unknown ? 'POLICY_UNKNOWN_FIELD' : 'POLICY_INVALID',
    message: `policy file ${source} has ${problems.length} problem(s)`,
    details: problems,
    hint:
      'fields: version (1), signMessage, chainIds, contracts, selectors, maxValueWei, maxFeeWei, ' +
      'maxPriorityFeePerGasWei, maxDeadlineSeconds, allowNoExpiry, typedDataDomains, protocolPolicies.erc20',
  });
}

export function decideMessage(policy: EvmPolicy | undefined): Decision {
  if (!policy) return deny('no-policy', 'no --policy was given: signing is denied by default');
  return policy.signMessage === true ? ALLOW : deny('signMessage', 'the policy does not allow personal_sign messages');
}

export function decideTransaction(policy: EvmPolicy | undefined, tx: TransactionSerializable): Decision {
  if (!policy) return deny('no-policy', 'no --policy was given: signing is denied by default');
  if (!(policy.chainIds ?? []).includes(tx.chainId!))
    return deny('chainIds', `chain ${tx.chainId} is not in the policy's chainIds`);
  if (!tx.to) return deny('contracts', 'contract creation (no "to") is not allowed');
  if (!sameAddressIn(policy.contracts, tx.to)) return deny('contracts', `${tx.to} is not in the policy's contracts`);
  const data = tx.data ?? '0x';
  const decoded = data === '0x' ? undefined : decodeCalldata(data);
  if (decoded && 'error' in decoded) return deny('calldata', decoded.error);
  if (decoded) {
    const verdict = decideErc20(policy, tx.to, decoded);
    if (!verdict.allowed) return verdict;
  } else if (data !== '0x') {
    const selector = data.slice(0, 10).toLowerCase();
    if (data.length < 10 || !(policy.selectors ?? []).some((s) => s.toLowerCase() === selector)) {
      return deny(
        'selectors',
        `function selector ${data.length < 10 ? '(data shorter than 4 bytes)' : selector} ` +
          `is not in the policy's selectors`,
      );
    }
  }
  const max = BigInt(policy.maxValueWei ?? '0');
  if ((tx.value ?? 0n) > max) return deny('maxValueWei', `value ${tx.value} wei exceeds maxValueWei ${max}`);
  return decideFees(policy, tx);
}

/**
 * An ERC-20 call, decoded: the token, the recipient or spender, and the amount must each be
 * allowed; an unlimited approval needs its own yes. Without an erc20 section, none is signed.
 */
function decideErc20(policy: EvmPolicy, token: Address, call: Erc20Call): Decision {
  const rule = policy.protocolPolicies?.erc20;
  if (!rule) return deny('protocolPolicies.erc20', `an ERC-20 ${call.fn} needs a protocolPolicies.erc20 section`);
  if (rule.tokenAllowlist && !sameAddressIn(rule.tokenAllowlist, token))
    return deny('erc20.tokenAllowlist', `token ${token} is not in the erc20 tokenAllowlist`);
  if (!sameAddressIn(rule.recipientAllowlist, call.counterparty))
    return deny(
      'erc20.recipientAllowlist',
      `${call.fn} to ${call.counterparty}, which is not in the erc20 recipientAllowlist`,
    );
  if (call.kind === 'allowance') {
    if (call.amount === MAX_UINT256 && rule.allowUnlimitedApproval !== true)
      return deny('erc20.allowUnlimitedApproval', `${call.fn} of 2^256-1 (unlimited) to ${call.counterparty}`);
    const cap = BigInt(rule.maxAllowanceWei ?? '0');
    if (call.amount > cap) return deny('erc20.maxAllowanceWei', `${call.fn} of ${call.amount} exceeds ${cap}`);
    return ALLOW;
  }
  const cap = BigInt(rule.maxAmountWei ?? rule.maxAllowanceWei ?? '0');
  if (call.amount > cap) return deny('erc20.maxAmountWei', `${call.fn} of ${call.amount} exceeds ${cap}`);
  return ALLOW;
}

/** Fees are never unbounded: without the policy's caps, these conservative ones apply. */
export const DEFAULT_MAX_FEE_WEI = 10n ** 16n; // 0.01 ETH
export const DEFAULT_MAX_PRIORITY_FEE_PER_GAS_WEI = 100n * 10n ** 9n; // 100 gwei

/**
 * The value cap bounds what a signature sends; this bounds what it burns or tips: gas times the
 * highest price per gas the transaction allows, and the tip per gas on its own.
 */
function decideFees(policy: EvmPolicy, tx: TransactionSerializable): Decision {
  const t = tx as { gas?: bigint; gasPrice?: bigint; maxFeePerGas?: bigint; maxPriorityFeePerGas?: bigint };
  const tipCap = policy.maxPriorityFeePerGasWei
    ? BigInt(policy.maxPriorityFeePerGasWei)
    : DEFAULT_MAX_PRIORITY_FEE_PER_GAS_WEI;
  if ((t.maxPriorityFeePerGas ?? 0n) > tipCap)
    return deny('maxPriorityFeePerGasWei', `maxPriorityFeePerGas ${t.maxPriorityFeePerGas} wei exceeds ${tipCap}`);
  const feeCap = policy.maxFeeWei ? BigInt(policy.maxFeeWei) : DEFAULT_MAX_FEE_WEI;
  const perGas = t.maxFeePerGas ?? t.gasPrice ?? 0n;
  const fee = (t.gas ?? 0n) * perGas;
  if (fee > feeCap)
    return deny('maxFeeWei', `the fee can reach ${fee} wei (gas ${t.gas ?? 0n} × ${perGas} per gas), over ${feeCap}`);
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
  if (!policy) return deny('no-policy', 'no --policy was given: signing is denied by default');
  const domain = data.domain;
  if (domain.chainId !== undefined && !(policy.chainIds ?? []).includes(Number(domain.chainId))) {
    return deny('chainIds', `typed-data domain chain ${String(domain.chainId)} is not in the policy's chainIds`);
  }
  if (!(policy.typedDataDomains ?? []).some((rule) => domainMatches(rule, domain))) {
    return deny('typedDataDomains', `domain ${JSON.stringify(domain)} matches none of the policy's typedDataDomains`);
  }
  if (policy.maxDeadlineSeconds !== undefined) {
    const limit = BigInt(nowSeconds + policy.maxDeadlineSeconds);
    for (const [field, value] of deadlines(data)) {
      let at: bigint;
      try {
        at = BigInt(value as string);
      } catch {
        return deny('maxDeadlineSeconds', `${field} "${String(value)}" is not a number of seconds`);
      }
      if (at === 0n && policy.allowNoExpiry !== true)
        return deny('maxDeadlineSeconds', `${field} is 0, which DAI-style permits read as "never expires"`);
      if (at > limit)
        return deny('maxDeadlineSeconds', `${field} ${at} is more than ${policy.maxDeadlineSeconds}s from now`);
    }
  }
  return ALLOW;
}

function domainMatches(rule: z.infer<typeof DomainRule>, domain: Record<string, unknown>): boolean {
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

function sameAddressIn(list: string[] | undefined, addr: Address): boolean {
  return (list ?? []).some((a) => checksumAddress(a) === checksumAddress(addr));
}
