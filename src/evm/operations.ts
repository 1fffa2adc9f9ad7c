// What gets signed, parsed from operator or agent input: EIP-191 messages, EIP-712 typed data and
// transactions (EIP-1559, EIP-2930, legacy EIP-155). Hashing, RLP and EIP-712 encoding are viem's.
import {
  hashMessage,
  hashTypedData,
  isHex,
  keccak256,
  parseTransaction,
  recoverMessageAddress,
  recoverTransactionAddress,
  recoverTypedDataAddress,
  serializeSignature,
  serializeTransaction,
  validateTypedData,
  type Address,
  type Hex,
  type SignableMessage,
  type TransactionSerializable,
  type TypedDataDefinition,
} from 'viem';
import { UsageError, VerificationError, type ErrorCode } from '../errors.js';
import { checksumAddress, type EvmSignature } from './secp256k1.js';
import type { EvmSigner } from './signer.js';

/** An EIP-712 document as operators and agents write it. */
export interface TypedDataInput {
  domain: Record<string, unknown>;
  types: Record<string, { name: string; type: string }[]>;
  primaryType: string;
  message: Record<string, unknown>;
}

/** `0x…` is raw bytes (hex), anything else is UTF-8 text, as personal_sign treats them. */
export function parseMessage(text: string): SignableMessage {
  if (text.startsWith('0x')) {
    if (!isHex(text) || text.length % 2 !== 0)
      throw new UsageError({
        code: 'EVM_MESSAGE_INVALID',
        message: `message "${text.slice(0, 20)}…" starts with 0x but is not whole bytes of hex`,
        hint: 'pass 0x followed by an even number of hex digits, or plain text',
      });
    return { raw: text as Hex };
  }
  return text;
}

const TYPED_DATA_FIELDS = new Set(['domain', 'types', 'primaryType', 'message']);

/** Checks shape and types (viem's validateTypedData) so a malformed document never reaches a signer. */
export function parseTypedData(value: unknown, source: string): TypedDataInput {
  const fail = (why: string, cause?: unknown) =>
    new UsageError({
      code: 'EVM_TYPED_DATA_INVALID',
      message: `${source}: ${why}`,
      hint: 'EIP-712 JSON: {"domain":{…},"types":{…},"primaryType":"…","message":{…}}',
      ...(cause ? { cause } : {}),
    });
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw fail('not a JSON object');
  const doc = value as Record<string, unknown>;
  for (const key of Object.keys(doc)) if (!TYPED_DATA_FIELDS.has(key)) throw fail(`unknown field "${key}"`);
  for (const key of TYPED_DATA_FIELDS) if (doc[key] === undefined) throw fail(`"${key}" is missing`);
  if (typeof doc.primaryType !== 'string') throw fail('"primaryType" is not a string');
  for (const key of ['domain', 'types', 'message']) {
    if (typeof doc[key] !== 'object' || doc[key] === null || Array.isArray(doc[key]))
      throw fail(`"${key}" is not an object`);
  }
  const input = doc as unknown as TypedDataInput;
  if (!input.types[input.primaryType] && input.primaryType !== 'EIP712Domain')
    throw fail(`primaryType "${input.primaryType}" is not in "types"`);
  try {
    validateTypedData(input as unknown as TypedDataDefinition);
    hashTypedData(input as unknown as TypedDataDefinition);
  } catch (err) {
    throw fail(shortMessage(err), err);
  }
  const uncovered = uncoveredField(input);
  if (uncovered) throw fail(uncovered);
  return input;
}

/**
 * What the policy checks must be what is hashed. A supplied EIP712Domain type must list exactly
 * the fields the domain object has (else the signature may commit to fewer than were checked),
 * and every message field at every depth must be one its struct type declares (an undeclared
 * field is read by nobody's hash).
 */
function uncoveredField(data: TypedDataInput): string | undefined {
  const declared = data.types.EIP712Domain;
  if (declared) {
    const typed = declared.map((f) => f.name).sort();
    const present = Object.keys(data.domain)
      .filter((k) => data.domain[k] !== undefined)
      .sort();
    if (typed.join(',') !== present.join(','))
      return (
        `types.EIP712Domain lists [${typed.join(', ')}] but the domain holds [${present.join(', ')}]: ` +
        'the signature would not cover the domain that is checked'
      );
  }
  const walk = (type: string, value: unknown, at: string, depth: number): string | undefined => {
    if (depth > 32) return `${at || 'message'}: structs nested deeper than 32`;
    const array = /^(.*)\[\d*\]$/.exec(type);
    if (array) {
      if (!Array.isArray(value)) return undefined;
      for (const [i, v] of value.entries()) {
        const problem = walk(array[1]!, v, `${at}[${i}]`, depth + 1);
        if (problem) return problem;
      }
      return undefined;
    }
    const fields = data.types[type];
    if (!fields || typeof value !== 'object' || value === null) return undefined;
    const names = new Set(fields.map((f) => f.name));
    const extra = Object.keys(value).find((k) => !names.has(k));
    if (extra !== undefined) return `${at ? `${at}.` : ''}${extra} is not a field of ${type}: it would not be signed`;
    for (const f of fields) {
      const problem = walk(
        f.type,
        (value as Record<string, unknown>)[f.name],
        at ? `${at}.${f.name}` : f.name,
        depth + 1,
      );
      if (problem) return problem;
    }
    return undefined;
  };
  return walk(data.primaryType, data.message, '', 0);
}

export function typedDataHash(data: TypedDataInput): Hex {
  return hashTypedData(data as unknown as TypedDataDefinition);
}

const TX_FIELDS = new Set([
  'type',
  'chainId',
  'nonce',
  'to',
  'value',
  'data',
  'input',
  'gas',
  'gasLimit',
  'gasPrice',
  'maxFeePerGas',
  'maxPriorityFeePerGas',
  'accessList',
  'from',
]);
type TxKind = 'eip1559' | 'eip2930' | 'legacy';

/**
 * A transaction from JSON. chainId is required: a pre-EIP-155 transaction could be replayed on
 * every chain. The type is EIP-1559 unless gasPrice is given (legacy, or EIP-2930 with an access
 * list). Quantities may be JSON integers, decimal strings or 0x hex.
 */
export function parseTransactionInput(value: unknown, source: string): TransactionSerializable {
  const fail = (code: ErrorCode, why: string) =>
    new UsageError({
      code,
      message: `${source}: ${why}`,
      hint:
        'e.g. {"chainId":1,"nonce":0,"to":"0x…","value":"1000","gas":21000,' +
        '"maxFeePerGas":"30000000000","maxPriorityFeePerGas":"1000000000"}',
    });
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail('EVM_TX_INVALID', 'not a JSON object');
  const tx = value as Record<string, unknown>;
  for (const key of Object.keys(tx)) if (!TX_FIELDS.has(key)) throw fail('EVM_TX_INVALID', `unknown field "${key}"`);
  if (tx.chainId === undefined)
    throw fail('EVM_CHAIN_ID_MISSING', 'chainId is required (a transaction without it can be replayed on any chain)');
  const num = (key: string, required: boolean): bigint | undefined => {
    const v = tx[key];
    if (v === undefined || v === null) {
      if (required) throw fail('EVM_TX_FIELD_MISSING', `${key} is required`);
      return undefined;
    }
    return quantity(v, key, source);
  };
  const kind = txKind(tx, source);
  const chainId = Number(num('chainId', true));
  if (!Number.isSafeInteger(chainId) || chainId <= 0)
    throw fail('EVM_TX_INVALID', `chainId ${String(tx.chainId)} is not a positive integer`);
  const data = tx.data ?? tx.input;
  if (data !== undefined && (typeof data !== 'string' || !isHex(data) || data.length % 2 !== 0))
    throw fail('EVM_TX_INVALID', 'data is not 0x-prefixed whole bytes of hex');
  if (tx.from !== undefined) checksumAddress(String(tx.from), 'from');
  const base = {
    chainId,
    nonce: Number(num('nonce', true)),
    gas: num(tx.gas !== undefined ? 'gas' : 'gasLimit', true)!,
    ...(tx.to !== undefined && tx.to !== null ? { to: checksumAddress(String(tx.to), 'to') } : {}),
    value: num('value', false) ?? 0n,
    ...(data ? { data: data as Hex } : {}),
  };
  if (kind === 'legacy') return { ...base, type: 'legacy', gasPrice: num('gasPrice', true)! };
  const accessList = parseAccessList(tx.accessList, source);
  if (kind === 'eip2930') return { ...base, type: 'eip2930', gasPrice: num('gasPrice', true)!, accessList };
  return {
    ...base,
    type: 'eip1559',
    maxFeePerGas: num('maxFeePerGas', true)!,
    maxPriorityFeePerGas: num('maxPriorityFeePerGas', true)!,
    accessList,
  };
}

function txKind(tx: Record<string, unknown>, source: string): TxKind {
  const named: Record<string, TxKind> = {
    eip1559: 'eip1559',
    '0x2': 'eip1559',
    '2': 'eip1559',
    eip2930: 'eip2930',
    '0x1': 'eip2930',
    '1': 'eip2930',
    legacy: 'legacy',
    '0x0': 'legacy',
    '0': 'legacy',
  };
  if (tx.type !== undefined) {
    const kind = named[String(tx.type).toLowerCase()];
    if (!kind)
      throw new UsageError({
        code: 'EVM_TX_INVALID',
        message: `${source}: type "${String(tx.type)}" is not eip1559, eip2930 or legacy`,
      });
    return kind;
  }
  if (tx.gasPrice !== undefined) return tx.accessList !== undefined ? 'eip2930' : 'legacy';
  return 'eip1559';
}

function parseAccessList(value: unknown, source: string): { address: Address; storageKeys: Hex[] }[] {
  if (value === undefined) return [];
  const fail = () =>
    new UsageError({
      code: 'EVM_TX_INVALID',
      message: `${source}: accessList is not [{"address":"0x…","storageKeys":["0x…32 bytes"]}]`,
    });
  if (!Array.isArray(value)) throw fail();
  return value.map((entry) => {
    const e = entry as { address?: unknown; storageKeys?: unknown };
    if (typeof e?.address !== 'string' || !Array.isArray(e.storageKeys)) throw fail();
    const keys = e.storageKeys.map((k) => {
      if (typeof k !== 'string' || !/^0x[0-9a-fA-F]{64}$/.test(k)) throw fail();
      return k as Hex;
    });
    return { address: checksumAddress(e.address, 'accessList address'), storageKeys: keys };
  });
}

function quantity(v: unknown, key: string, source: string): bigint {
  const ok =
    (typeof v === 'number' && Number.isSafeInteger(v) && v >= 0) ||
    (typeof v === 'string' && (/^\d+$/.test(v) || /^0x[0-9a-fA-F]+$/.test(v)));
  if (!ok) {
    throw new UsageError({
      code: 'EVM_TX_INVALID',
      message: `${source}: ${key} "${String(v)}" is not a non-negative integer`,
      hint: 'write large numbers as decimal strings ("1000000000000000000") or 0x hex',
    });
  }
  return BigInt(v as string | number);
}

export function transactionHash(tx: TransactionSerializable): Hex {
  return keccak256(serializeTransaction(tx));
}

export function signatureHex(sig: EvmSignature): Hex {
  return serializeSignature({ r: sig.r, s: sig.s, yParity: sig.yParity });
}

// signHash only returns signatures that recover to the signer's address over exactly this hash
// (the check), and the hash is viem's, so messages and typed data need no second recovery.
export async function signMessageWith(
  signer: EvmSigner,
  message: SignableMessage,
): Promise<{ hash: Hex; signature: Hex }> {
  const hash = hashMessage(message);
  return { hash, signature: signatureHex(await signer.signHash(hash)) };
}

export async function signTypedDataWith(
  signer: EvmSigner,
  data: TypedDataInput,
): Promise<{ hash: Hex; signature: Hex }> {
  const hash = typedDataHash(data);
  return { hash, signature: signatureHex(await signer.signHash(hash)) };
}

/** The serialized signed transaction, ready for eth_sendRawTransaction, and its hashes. */
export async function signTransactionWith(
  signer: EvmSigner,
  tx: TransactionSerializable,
): Promise<{ signingHash: Hex; raw: Hex; txHash: Hex }> {
  const signingHash = transactionHash(tx);
  const sig = await signer.signHash(signingHash);
  // Legacy serialisation derives EIP-155's v from v (27/28); typed transactions use yParity.
  const raw = serializeTransaction(tx, { r: sig.r, s: sig.s, yParity: sig.yParity, v: BigInt(27 + sig.yParity) });
  await expectSigner(recoverTransactionAddress({ serializedTransaction: raw as never }), signer.address);
  return { signingHash, raw, txHash: keccak256(raw) };
}

// A serialised transaction is recovered again by viem: that checks the RLP and the v/yParity
// encoding, not only the signature.
async function expectSigner(recovered: Promise<Address>, address: Address): Promise<void> {
  if ((await recovered) !== address) {
    throw new UsageError({
      code: 'EVM_SIGNATURE_SELF_CHECK_FAILED',
      message: `the signature recovers to ${await recovered}, not ${address}; nothing was returned`,
    });
  }
}

export type VerifyTarget = { message: SignableMessage } | { typedData: TypedDataInput } | { rawTransaction: Hex };

/**
 * Recovers the signer of a message, typed data or signed transaction; throws
 * EVM_SIGNATURE_MISMATCH when it is not `address`.
 */
export async function verifyEvmSignature(address: Address, target: VerifyTarget, signature?: Hex): Promise<Address> {
  const recovered = await recoverSigner(target, signature);
  if (recovered !== address) {
    throw new VerificationError({
      code: 'EVM_SIGNATURE_MISMATCH',
      message: `the signature was made by ${recovered}, not ${address}`,
    });
  }
  return recovered;
}

async function recoverSigner(target: VerifyTarget, signature?: Hex): Promise<Address> {
  try {
    if ('rawTransaction' in target) {
      parseTransaction(target.rawTransaction);
      return await recoverTransactionAddress({ serializedTransaction: target.rawTransaction as never });
    }
    const sig = requireSignature(signature);
    if ('message' in target) return await recoverMessageAddress({ message: target.message, signature: sig });
    return await recoverTypedDataAddress({ ...(target.typedData as unknown as TypedDataDefinition), signature: sig });
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new VerificationError({
      code: 'EVM_SIGNATURE_INVALID',
      message: `the signature cannot be recovered: ${shortMessage(err)}`,
      cause: err,
    });
  }
}

function requireSignature(signature: Hex | undefined): Hex {
  if (!signature || !/^0x[0-9a-fA-F]{130}$/.test(signature)) {
    throw new UsageError({
      code: 'EVM_SIGNATURE_FORMAT',
      message: `--signature must be 65 bytes of 0x hex (r‖s‖v), got "${signature ?? ''}"`,
    });
  }
  return signature;
}

function shortMessage(err: unknown): string {
  const e = err as { shortMessage?: string; message?: string };
  return (e.shortMessage ?? e.message ?? String(err)).split('\n')[0]!;
}
