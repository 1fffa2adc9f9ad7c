// The two policy file formats `agentkeys mcp` reads, parsed strictly and normalised into one
// EvmPolicy: agentkeys' own (`"version": 1`, fail-closed: an absent list allows nothing) and
// Agentic Vault's (`allowedChainIds`, …, no version; an empty or absent list allows anything, as
// that tool reads it). Where our reading of the peer's file is stricter, docs/evm-policy.md says so.
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { MAX_UINT256, type Protocol } from './calldata.js';
import { checksumAddress } from './secp256k1.js';

const address = z.string().regex(/^0x[0-9a-fA-F]{40}$/, 'an address (0x + 40 hex)');
const chainId = z.number().int().positive();
const wei = z.string().regex(/^\d+$/, 'a decimal string of wei');
const selector = z.string().regex(/^0x[0-9a-fA-F]{8}$/, 'a 4-byte selector (0x + 8 hex)');

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
export type DomainRule = z.infer<typeof DomainRule>;

const TokenCaps = z.object({ maxAmountWei: wei.optional(), maxAllowanceWei: wei.optional() }).strict();
const perToken = z.record(address, TokenCaps);

/** What every protocol section judges: tokens, counterparties, amounts (per token too). */
const Section = z.object({
  tokenAllowlist: z.array(address).optional(),
  recipientAllowlist: z.array(address).optional(),
  maxAmountWei: wei.optional(),
  perToken: perToken.optional(),
});

/** ERC-20 and Permit2 calls grant allowances too: the same fields judge both. */
const AllowanceSection = Section.extend({
  maxAllowanceWei: wei.optional(),
  allowUnlimitedApproval: z.boolean().optional(),
}).strict();

/** Our protocol sections: the fields each protocol's calls can be judged by, nothing else. */
const OWN_SECTIONS = {
  erc20: AllowanceSection,
  permit2: AllowanceSection,
  uniswap_v3: Section.extend({ maxSlippageBps: z.number().int().min(0).max(10_000).optional() }).strict(),
  aave_v3: Section.extend({ maxInterestRateMode: z.number().int().min(0).optional() }).strict(),
};

const OwnSchema = z
  .object({
    version: z.literal(1),
    description: z.string().optional(),
    signMessage: z.boolean().optional(),
    chainIds: z.array(chainId).optional(),
    contracts: z.array(address).optional(),
    selectors: z.array(selector).optional(),
    maxValueWei: wei.optional(),
    maxFeeWei: wei.optional(),
    maxPriorityFeePerGasWei: wei.optional(),
    maxDeadlineSeconds: z.number().int().positive().optional(),
    allowNoExpiry: z.boolean().optional(),
    typedDataDomains: z.array(DomainRule).optional(),
    protocolPolicies: z.object(OWN_SECTIONS).partial().strict().optional(),
  })
  .strict();

// Agentic Vault writes amounts as strings or safe integers.
const peerWei = z.union([wei, z.number().int().nonnegative().safe()]).transform((v) => String(v));
const PeerSection = z
  .object({
    tokenAllowlist: z.array(address).optional(),
    recipientAllowlist: z.array(address).optional(),
    maxSlippageBps: z.number().int().min(0).max(10_000).optional(),
    maxInterestRateMode: z.number().int().nonnegative().optional(),
    maxAllowanceWei: peerWei.optional(),
    maxAmountWei: peerWei.optional(),
  })
  .strict();
const PeerSchema = z
  .object({
    allowedChainIds: z.array(z.number().int()).optional(),
    allowedContracts: z.array(address).optional(),
    allowedSelectors: z.array(selector).optional(),
    maxAmountWei: peerWei.optional(),
    maxDeadlineSeconds: z.number().int().nonnegative().optional(),
    protocolPolicies: z
      .object({ erc20: PeerSection, uniswap_v3: PeerSection, aave_v3: PeerSection })
      .partial()
      .strict()
      .optional(),
  })
  .strict();

/** A protocol's rules, normalised: undefined means "any" / "no cap", a set or number bounds it. */
export interface ProtocolRule {
  tokens?: Set<string>;
  recipients?: Set<string>;
  maxAmountWei?: bigint;
  maxAllowanceWei?: bigint;
  allowUnlimitedApproval: boolean;
  /** A swap must carry a quote and stay within this of it; undefined: see requireSlippage. */
  maxSlippageBps?: number;
  /** Ours: a swap without a slippage bound is refused. The peer's files bound slippage only when asked. */
  requireSlippage: boolean;
  maxInterestRateMode?: bigint;
  perToken: Map<string, { maxAmountWei?: bigint; maxAllowanceWei?: bigint }>;
}

export type PolicyFormat = 'agentkeys/v1' | 'agentic-vault';

export interface EvmPolicy {
  format: PolicyFormat;
  signMessage: boolean;
  chainIds: Set<number>;
  contracts: Set<string>;
  /** Selectors signed as raw calldata when no decoder reads them. */
  selectors: Set<string>;
  /** Agentic Vault's reading: a decoded call's selector must be listed too. */
  selectorsGateDecoded: boolean;
  maxValueWei: bigint;
  maxFeeWei: bigint;
  maxPriorityFeePerGasWei: bigint;
  maxDeadlineSeconds?: number;
  allowNoExpiry: boolean;
  typedDataDomains: DomainRule[];
  /** Agentic Vault signs permits whose value is within maxAmountWei; ours bounds them by protocol sections. */
  maxPermitValueWei?: bigint;
  protocols: Partial<Record<Protocol, ProtocolRule>>;
}

/** Fees are never unbounded: without the policy's caps, these conservative ones apply. */
export const DEFAULT_MAX_FEE_WEI = 10n ** 16n; // 0.01 ETH
export const DEFAULT_MAX_PRIORITY_FEE_PER_GAS_WEI = 100n * 10n ** 9n; // 100 gwei

const lower = (list: string[]): Set<string> => new Set(list.map((a) => checksumAddress(a).toLowerCase()));
const big = (v: string | undefined): bigint | undefined => (v === undefined ? undefined : BigInt(v));

/** `version: 1` is ours; a file without one is Agentic Vault's (its keys are allowed*, maxAmountWei, …). */
export function detectFormat(json: unknown): PolicyFormat {
  const version = typeof json === 'object' && json !== null ? (json as Record<string, unknown>).version : undefined;
  return version === undefined ? 'agentic-vault' : 'agentkeys/v1';
}

export function parsePolicy(json: unknown, source: string): EvmPolicy {
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new UsageError({ code: 'POLICY_INVALID', message: `policy file ${source} is not a JSON object` });
  const ownOnly = Object.keys(json).filter((k) => k in OwnSchema.shape && !(k in PeerSchema.shape));
  if (detectFormat(json) === 'agentic-vault' && ownOnly.length > 0)
    throw new UsageError({
      code: 'POLICY_INVALID',
      message: `policy file ${source} has agentkeys fields (${ownOnly.join(', ')}) but no "version"`,
      hint: 'add "version": 1 (an Agentic Vault policy has no version and uses allowedChainIds, …)',
    });
  return detectFormat(json) === 'agentkeys/v1'
    ? normaliseOwn(check(OwnSchema, json, source, OWN_HINT))
    : normalisePeer(check(PeerSchema, json, source, PEER_HINT));
}

const OWN_HINT =
  'fields: version (1), signMessage, chainIds, contracts, selectors, maxValueWei, maxFeeWei, ' +
  'maxPriorityFeePerGasWei, maxDeadlineSeconds, allowNoExpiry, typedDataDomains, ' +
  'protocolPolicies.{erc20,permit2,uniswap_v3,aave_v3} (docs/evm-policy.md)';
const PEER_HINT =
  'an Agentic Vault policy (no "version"): allowedChainIds, allowedContracts, allowedSelectors, maxAmountWei, ' +
  'maxDeadlineSeconds, protocolPolicies.{erc20,uniswap_v3,aave_v3}; add "version": 1 for the agentkeys format';

function check<T extends z.ZodTypeAny>(schema: T, json: unknown, source: string, hint: string): z.infer<T> {
  const result = schema.safeParse(json);
  if (result.success) return result.data as z.infer<T>;
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
    hint,
  });
}

type OwnFile = z.infer<typeof OwnSchema>;
type OwnSection = Partial<
  z.infer<typeof OWN_SECTIONS.erc20> & z.infer<typeof OWN_SECTIONS.uniswap_v3> & z.infer<typeof OWN_SECTIONS.aave_v3>
>;

function normaliseOwn(file: OwnFile): EvmPolicy {
  const protocols: EvmPolicy['protocols'] = {};
  for (const [name, section] of Object.entries(file.protocolPolicies ?? {}) as [Protocol, OwnSection][]) {
    protocols[name] = {
      // An ERC-20 call's token is the transaction's `to`, which `contracts` already bounds; the
      // tokens inside a swap, a Permit2 grant or an Aave call are bounded only by this list.
      ...(section.tokenAllowlist || name !== 'erc20' ? { tokens: lower(section.tokenAllowlist ?? []) } : {}),
      recipients: lower(section.recipientAllowlist ?? []),
      maxAmountWei: BigInt(section.maxAmountWei ?? (name === 'erc20' ? section.maxAllowanceWei : undefined) ?? '0'),
      maxAllowanceWei: BigInt(section.maxAllowanceWei ?? '0'),
      allowUnlimitedApproval: section.allowUnlimitedApproval === true,
      ...(section.maxSlippageBps === undefined ? {} : { maxSlippageBps: section.maxSlippageBps }),
      requireSlippage: true,
      maxInterestRateMode: BigInt(section.maxInterestRateMode ?? 2),
      perToken: perTokenCaps(section.perToken),
    };
  }
  return {
    format: 'agentkeys/v1',
    signMessage: file.signMessage === true,
    chainIds: new Set(file.chainIds ?? []),
    contracts: lower(file.contracts ?? []),
    selectors: new Set((file.selectors ?? []).map((s) => s.toLowerCase())),
    selectorsGateDecoded: false,
    maxValueWei: BigInt(file.maxValueWei ?? '0'),
    maxFeeWei: BigInt(file.maxFeeWei ?? DEFAULT_MAX_FEE_WEI),
    maxPriorityFeePerGasWei: BigInt(file.maxPriorityFeePerGasWei ?? DEFAULT_MAX_PRIORITY_FEE_PER_GAS_WEI),
    ...(file.maxDeadlineSeconds === undefined ? {} : { maxDeadlineSeconds: file.maxDeadlineSeconds }),
    allowNoExpiry: file.allowNoExpiry === true,
    typedDataDomains: file.typedDataDomains ?? [],
    protocols,
  };
}

function perTokenCaps(
  map: Record<string, { maxAmountWei?: string | undefined; maxAllowanceWei?: string | undefined }> | undefined,
) {
  const out: ProtocolRule['perToken'] = new Map();
  for (const [token, caps] of Object.entries(map ?? {})) {
    out.set(checksumAddress(token).toLowerCase(), {
      ...(caps.maxAmountWei === undefined ? {} : { maxAmountWei: BigInt(caps.maxAmountWei) }),
      ...(caps.maxAllowanceWei === undefined ? {} : { maxAllowanceWei: BigInt(caps.maxAllowanceWei) }),
    });
  }
  return out;
}

type PeerFile = z.infer<typeof PeerSchema>;

/**
 * Agentic Vault's meanings: an empty or absent allowlist allows any address; an absent cap is no
 * cap; erc20's maxAllowanceWei caps approvals and transfers alike; allowedSelectors gates every
 * call; maxAmountWei caps the value (and a permit's value); maxDeadlineSeconds defaults to 0.
 */
function normalisePeer(file: PeerFile): EvmPolicy {
  const anyIfEmpty = (list: string[] | undefined) => (list && list.length > 0 ? { v: lower(list) } : undefined);
  const protocols: EvmPolicy['protocols'] = {};
  for (const [name, s] of Object.entries(file.protocolPolicies ?? {}) as [Protocol, z.infer<typeof PeerSection>][]) {
    const tokens = anyIfEmpty(s.tokenAllowlist);
    const recipients = anyIfEmpty(s.recipientAllowlist);
    const transferCap = name === 'erc20' ? s.maxAllowanceWei : s.maxAmountWei;
    protocols[name] = {
      ...(tokens ? { tokens: tokens.v } : {}),
      ...(recipients ? { recipients: recipients.v } : {}),
      ...(transferCap === undefined ? {} : { maxAmountWei: BigInt(transferCap) }),
      ...(s.maxAllowanceWei === undefined ? {} : { maxAllowanceWei: BigInt(s.maxAllowanceWei) }),
      // Stricter than the peer: an unlimited approval needs a cap that admits 2^256-1.
      allowUnlimitedApproval: big(s.maxAllowanceWei) === MAX_UINT256,
      ...(s.maxSlippageBps === undefined ? {} : { maxSlippageBps: s.maxSlippageBps }),
      requireSlippage: false,
      ...(s.maxInterestRateMode === undefined ? {} : { maxInterestRateMode: BigInt(s.maxInterestRateMode) }),
      perToken: new Map(),
    };
  }
  const contracts = lower(file.allowedContracts ?? []);
  const maxValue = BigInt(file.maxAmountWei ?? '0');
  return {
    format: 'agentic-vault',
    signMessage: false,
    chainIds: new Set(file.allowedChainIds ?? []),
    contracts,
    selectors: new Set((file.allowedSelectors ?? []).map((s) => s.toLowerCase())),
    selectorsGateDecoded: true,
    maxValueWei: maxValue,
    maxFeeWei: DEFAULT_MAX_FEE_WEI,
    maxPriorityFeePerGasWei: DEFAULT_MAX_PRIORITY_FEE_PER_GAS_WEI,
    maxDeadlineSeconds: file.maxDeadlineSeconds ?? 0,
    allowNoExpiry: false,
    // Its sign_permit allows a permit whose verifying contract is an allowed contract.
    typedDataDomains: [...contracts].map((c) => ({ verifyingContract: c })),
    maxPermitValueWei: maxValue,
    protocols,
  };
}
