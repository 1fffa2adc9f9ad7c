import type { Hex } from 'viem';
import { UsageError, type ErrorCode, type ExitCode } from '../src/errors.js';
import {
  parseMessage,
  parseTransactionInput,
  parseTypedData,
  signMessageWith,
  signTransactionWith,
  signTypedDataWith,
  verifyEvmSignature,
  type VerifyTarget,
} from '../src/evm/operations.js';
import { checksumAddress } from '../src/evm/secp256k1.js';
import { decodeCalldata, intentJson } from '../src/evm/calldata.js';
import {
  readPolicyFile,
  simulateDecision,
  type DecideContext,
  type Decision,
  type SimulationInput,
} from '../src/evm/policy.js';
import { evmKeyRef, openEvmSigner, type EvmSigner } from '../src/evm/signer.js';
import { createContext, type CommandContext, type GlobalOptions } from './context.js';
import { printKmsCalls, withKmsTrail } from './kms-support.js';
import { printJson, printLine, style } from './ui/format.js';
import { messageOf, readOperatorFile } from '../src/sys/operator-file.js';

export interface EvmOptions extends GlobalOptions {
  key?: string;
  message?: string;
  data?: string;
  tx?: string;
  address?: string;
  signature?: string;
  dir?: string;
  policy?: string;
  to?: string;
  calldata?: string;
  quoteOut?: string;
  quoteIn?: string;
  from?: string;
}

async function withSigner<T>(
  options: EvmOptions,
  body: (signer: EvmSigner, ctx: CommandContext) => Promise<T>,
): Promise<{ result: T; signer: EvmSigner; ctx: CommandContext }> {
  const ctx = await createContext({ ...options }, { preferVaultRegion: true });
  const ref = evmKeyRef(options.key, ctx.config);
  const { result, signer } = await withKmsTrail(ctx, async () => {
    const signer = await openEvmSigner(ref, () => ctx.services.kms(), options.dir ?? ctx.config.dir);
    return { signer, result: await body(signer, ctx) };
  });
  printKmsCalls(ctx);
  return { result, signer, ctx };
}

export async function runEvmAddress(options: EvmOptions): Promise<ExitCode> {
  const { signer, ctx } = await withSigner(options, async () => undefined);
  if (ctx.out.json) printJson({ ok: true, address: signer.address, keyId: signer.keyId, publicKey: signer.publicKey });
  else printLine(signer.address);
  return 0;
}

export async function runEvmSignMessage(options: EvmOptions): Promise<ExitCode> {
  const message = parseMessage(await readMessage(options.message));
  const { result, signer, ctx } = await withSigner(options, (s) => signMessageWith(s, message));
  return printSignature(ctx, signer, { hash: result.hash, signature: result.signature });
}

export async function runEvmSignTypedData(options: EvmOptions): Promise<ExitCode> {
  const data = parseTypedData(await readJsonFile(options.data, '--data', 'EVM_TYPED_DATA_INVALID'), options.data!);
  const { result, signer, ctx } = await withSigner(options, (s) => signTypedDataWith(s, data));
  return printSignature(ctx, signer, { hash: result.hash, signature: result.signature });
}

export async function runEvmSignTx(options: EvmOptions): Promise<ExitCode> {
  const tx = parseTransactionInput(await readJsonFile(options.tx, '--tx', 'EVM_TX_INVALID'), options.tx!);
  const { result, signer, ctx } = await withSigner(options, (s) => signTransactionWith(s, tx));
  if (ctx.out.json) {
    printJson({
      ok: true,
      address: signer.address,
      keyId: signer.keyId,
      type: tx.type,
      chainId: tx.chainId,
      signingHash: result.signingHash,
      txHash: result.txHash,
      raw: result.raw,
    });
  } else {
    printLine(result.raw);
    process.stderr.write(
      style.dim(`  ${tx.type} transaction on chain ${tx.chainId} signed by ${signer.address}, hash ${result.txHash}\n`),
    );
  }
  return 0;
}

export async function runEvmVerify(options: EvmOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  if (!options.address)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--address is required',
      hint: '--address 0x… --signature 0x… --message "hello"',
    });
  const address = checksumAddress(options.address, '--address');
  const target = await verifyTarget(options);
  await verifyEvmSignature(address, target, options.signature as Hex | undefined);
  if (ctx.out.json) printJson({ ok: true, address });
  else printLine(`${style.ok('✔')} signed by ${address}`);
  return 0;
}

async function verifyTarget(options: EvmOptions): Promise<VerifyTarget> {
  const given = [options.message, options.data, options.tx].filter((v) => v !== undefined).length;
  if (given !== 1)
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: 'give exactly one of --message, --data or --tx',
      hint: '--message TEXT|@FILE|0xHEX, --data typed.json, or --tx 0x<signed raw transaction>',
    });
  if (options.message !== undefined) return { message: parseMessage(await readMessage(options.message)) };
  if (options.data !== undefined)
    return {
      typedData: parseTypedData(await readJsonFile(options.data, '--data', 'EVM_TYPED_DATA_INVALID'), options.data),
    };
  const raw = options.tx!.startsWith('@') ? (await readText(options.tx!.slice(1), '--tx')).trim() : options.tx!;
  if (!/^0x[0-9a-fA-F]+$/.test(raw))
    throw new UsageError({
      code: 'EVM_TX_INVALID',
      message: '--tx must be a signed raw transaction in 0x hex (or @FILE holding one)',
    });
  return { rawTransaction: raw as Hex };
}

/** evm decode: what a call does, as the policy reads it; nothing is signed and no key is needed. */
export async function runEvmDecode(options: EvmOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const { to, data } = await calldataInput(options);
  const decoded = decodeCalldata(to, data);
  if (decoded && 'error' in decoded)
    throw new UsageError({
      code: 'EVM_CALLDATA_INVALID',
      message: decoded.error,
      hint: 'a known selector whose arguments do not decode (or not canonically) is refused by every policy',
    });
  const selector = data.slice(0, 10);
  if (ctx.out.json) printJson({ ok: true, to, selector, decoded: decoded ? intentJson(decoded) : null });
  else if (!decoded)
    printLine(`selector ${selector}: no decoder reads it (a policy signs it only if listed in selectors)`);
  else printLine(JSON.stringify(intentJson(decoded), null, 2));
  return 0;
}

/** evm simulate: the decision `agentkeys mcp` would make under --policy; exit 0 if it would sign, 3 if not. */
export async function runEvmSimulate(options: EvmOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  if (!options.policy)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--policy FILE is required',
      hint: '--policy vault-policy.json',
    });
  const policy = await readPolicyFile(options.policy);
  const given = [options.message, options.data, options.tx].filter((v) => v !== undefined).length;
  if (given !== 1)
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: 'give exactly one of --tx, --data or --message',
      hint: '--tx tx.json, --data typed.json, or --message TEXT',
    });
  let input: SimulationInput;
  if (options.message !== undefined) {
    parseMessage(await readMessage(options.message));
    input = { message: true };
  } else if (options.data !== undefined)
    input = {
      typedData: parseTypedData(await readJsonFile(options.data, '--data', 'EVM_TYPED_DATA_INVALID'), options.data),
    };
  else
    input = {
      transaction: parseTransactionInput(await readJsonFile(options.tx, '--tx', 'EVM_TX_INVALID'), options.tx!),
    };
  const { decision, decoded } = simulateDecision(policy, input, simulateContext(options));
  if (ctx.out.json) printJson({ ok: decision.allowed, wouldSign: decision.allowed, ...denial(decision), decoded });
  else {
    if (decoded) process.stderr.write(style.dim(`  decoded: ${JSON.stringify(decoded)}\n`));
    printLine(
      decision.allowed
        ? `${style.ok('✔')} would sign (${policy.format} policy ${options.policy})`
        : `${style.bad('✘')} would refuse: rule "${decision.rule}": ${decision.reason}`,
    );
  }
  return decision.allowed ? 0 : 3;
}

function denial(d: Decision): Record<string, string> {
  return d.allowed ? {} : { rule: d.rule, reason: d.reason };
}

function simulateContext(options: EvmOptions): DecideContext {
  const amount = (v: string, flag: string) => {
    if (!/^\d{1,78}$/.test(v))
      throw new UsageError({ code: 'FLAG_INVALID', message: `${flag} must be a whole number of base units` });
    return BigInt(v);
  };
  const quote = {
    ...(options.quoteOut !== undefined ? { amountOut: amount(options.quoteOut, '--quote-out') } : {}),
    ...(options.quoteIn !== undefined ? { amountIn: amount(options.quoteIn, '--quote-in') } : {}),
  };
  return {
    ...(options.from ? { self: checksumAddress(options.from, '--from') } : {}),
    ...(Object.keys(quote).length ? { quote } : {}),
  };
}

/** --tx FILE (its to and data), or --to with --calldata 0x…. */
async function calldataInput(options: EvmOptions): Promise<{ to: `0x${string}`; data: Hex }> {
  if (options.tx !== undefined) {
    const tx = parseTransactionInput(await readJsonFile(options.tx, '--tx', 'EVM_TX_INVALID'), options.tx);
    if (!tx.to || !tx.data)
      throw new UsageError({ code: 'EVM_TX_INVALID', message: `${options.tx} has no "to" or no "data"` });
    return { to: tx.to, data: tx.data };
  }
  if (!options.to || !options.calldata || !/^0x([0-9a-fA-F]{2})*$/.test(options.calldata))
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: 'give --tx FILE, or --to 0x… with --calldata 0x<hex>',
      hint: 'agentkeys evm decode --to 0xA0b8…eB48 --calldata 0x095ea7b3…',
    });
  return { to: checksumAddress(options.to, '--to'), data: options.calldata as Hex };
}

function printSignature(ctx: CommandContext, signer: EvmSigner, out: { hash: Hex; signature: Hex }): ExitCode {
  if (ctx.out.json)
    printJson({ ok: true, address: signer.address, keyId: signer.keyId, hash: out.hash, signature: out.signature });
  else {
    printLine(out.signature);
    process.stderr.write(style.dim(`  signed by ${signer.address} (${signer.source})\n`));
  }
  return 0;
}

/** TEXT, @FILE (the file's bytes, as 0x hex) or 0xHEX. */
async function readMessage(flag: string | undefined): Promise<string> {
  if (flag === undefined)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--message is required',
      hint: '--message "hello", --message @file.txt or --message 0x68656c6c6f',
    });
  if (!flag.startsWith('@')) return flag;
  const bytes = await readBytes(flag.slice(1), '--message');
  return `0x${bytes.toString('hex')}`;
}

async function readJsonFile(file: string | undefined, flag: string, code: ErrorCode): Promise<unknown> {
  if (!file) throw new UsageError({ code: 'FLAG_MISSING', message: `${flag} FILE.json is required` });
  const text = await readText(file, flag);
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UsageError({ code, message: `${file} is not JSON: ${messageOf(err)}`, cause: err });
  }
}

async function readText(file: string, flag: string): Promise<string> {
  return (await readBytes(file, flag)).toString('utf8');
}

async function readBytes(file: string, flag: string): Promise<Buffer> {
  return readOperatorFile(file, { code: 'INPUT_UNREADABLE', what: `${flag} file` });
}
