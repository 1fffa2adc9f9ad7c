// The Agentic Vault tools without the MCP transport: each call is decided by the policy, signed
// only if allowed, and recorded in the audit chain before any signature leaves the process.
import { createHash } from 'node:crypto';
import { keccak256, type Hex, type SignableMessage } from 'viem';
import { canonicalJson, type JsonValue } from '../audit/canonical.js';
import { AgentkeysError, exitCodeOf, isAgentkeysError } from '../errors.js';
import {
  parseMessage,
  parseTransactionInput,
  parseTypedData,
  signMessageWith,
  signTransactionWith,
  signTypedDataWith,
  verifyEvmSignature,
  type VerifyTarget,
} from '../evm/operations.js';
import {
  decideMessage,
  decideTypedData,
  evaluateTransaction,
  simulateDecision,
  type DecideContext,
  type Decision,
  type EvmPolicy,
} from '../evm/policy.js';
import type { EvmRpc } from '../evm/rpc.js';
import { checksumAddress } from '../evm/secp256k1.js';
import type { EvmSigner } from '../evm/signer.js';
import { messageOf } from '../sys/operator-file.js';

export type ToolName =
  | 'get_address'
  | 'health_check'
  | 'sign_message'
  | 'sign_typed_data'
  | 'sign_transaction'
  | 'verify_signature'
  | 'verify_audit'
  | 'simulate'
  | 'get_balance'
  | 'send_transaction';

/** What goes into the chain for every call: never the message or transaction itself, only digests. */
export interface DecisionRecord {
  tool: ToolName;
  decision: 'allowed' | 'denied' | 'failed';
  request_digest: string;
  rule?: string;
  reason?: string;
  error?: string;
  address?: string;
  key?: string;
  chain_id?: number;
  signature_hash?: string;
  tx_hash?: string;
  /** simulate: what the policy would have decided; nothing was signed. */
  simulated?: 'allowed' | 'denied';
}

export interface VaultDeps {
  /** Opened on first use and kept, so a KMS outage at start-up does not stop the server. */
  openSigner(): Promise<EvmSigner>;
  /** Key state for health_check (KMS DescribeKey), or undefined for a local key. */
  keyState?(): Promise<{ state: string; spec: string; arn: string }>;
  policy: EvmPolicy | undefined;
  /** Appends one event to the audit chain; a failure withholds the signature. */
  record(record: DecisionRecord, client: string): Promise<void>;
  verifyAudit?(): Promise<{
    ok: boolean;
    events: number;
    head: string | null;
    findings: { index: number; code: string; message: string }[];
  }>;
  info: { keyRef: string; region?: string; auditLog?: string; policyFile?: string };
  /** --rpc-url: get_balance reads through it; send_transaction broadcasts through it when allowSend. */
  rpc?: EvmRpc;
  allowSend?: boolean;
}

export type ToolResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; code: string; message: string; rule?: string; auditWarning?: string };

const SIGNING_TOOLS = new Set<ToolName>(['sign_message', 'sign_typed_data', 'sign_transaction', 'send_transaction']);

export class Vault {
  private signer: Promise<EvmSigner> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();
  /** Calls answered so far (the stop event says how many). */
  calls = 0;

  constructor(private readonly deps: VaultDeps) {}

  /** Every call, tracked until its result is back, so a server that is told to stop can answer it first. */
  call(tool: ToolName, args: Record<string, unknown>, client = 'unknown'): Promise<ToolResult> {
    this.calls++;
    return this.track(this.decideAndRecord(tool, args, client));
  }

  private track<T>(work: Promise<T>): Promise<T> {
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work)).catch(() => undefined);
    return work;
  }

  /**
   * A call the transport refused before it reached a tool (arguments that fail the tool's schema,
   * answered -32602): it is recorded all the same, as failed. A failure to record it is swallowed:
   * the caller gets its -32602 either way, and no signature is at stake.
   */
  recordRefusedInput(tool: ToolName, args: unknown, client: string): Promise<void> {
    return this.track(this.recordRefusal(tool, args, client));
  }

  private async recordRefusal(tool: ToolName, args: unknown, client: string): Promise<void> {
    const asObject = typeof args === 'object' && args !== null && !Array.isArray(args) ? args : { value: args };
    const record: DecisionRecord = {
      tool,
      decision: 'failed',
      request_digest: requestDigest(tool, asObject as Record<string, unknown>),
      error: 'MCP_ARGUMENT_INVALID',
    };
    await this.deps.record(recordable(record), recordableText(client)).catch(() => undefined);
  }

  /**
   * Waits until no call is in flight: stdin's end can arrive while calls already read from it are
   * still being decided (a KMS call, the audit append), and each of those is owed its answer. A
   * turn of the event loop between checks lets calls the transport has read reach the vault.
   */
  async drain(): Promise<void> {
    for (let quiet = 0; quiet < 3;) {
      await new Promise((resolve) => setImmediate(resolve));
      if (this.inFlight.size === 0) quiet++;
      else {
        quiet = 0;
        await Promise.allSettled([...this.inFlight]);
      }
    }
  }

  private async decideAndRecord(tool: ToolName, args: Record<string, unknown>, client: string): Promise<ToolResult> {
    const base: DecisionRecord = { tool, decision: 'allowed', request_digest: requestDigest(tool, args) };
    let outcome: Outcome;
    try {
      outcome = await this.run(tool, args);
    } catch (err) {
      outcome = { record: { decision: 'failed', error: codeOf(err) }, result: failure(err) };
    }
    try {
      await this.deps.record(recordable({ ...base, ...outcome.record }), recordableText(client));
    } catch (err) {
      const why = `the call could not be recorded in the audit chain: ${messageOf(err)}`;
      // Fail closed: a signature whose decision is not in the chain is never handed out. Other
      // results (refusals, errors, health) carry no secret and are returned with the warning.
      if (outcome.result.ok && SIGNING_TOOLS.has(tool))
        return { ok: false, code: 'MCP_AUDIT_WRITE_FAILED', message: `${why}; the signature is withheld` };
      return outcome.result.ok
        ? { ok: true, value: { ...outcome.result.value, auditWarning: why } }
        : { ...outcome.result, auditWarning: why };
    }
    // Only a recorded signature is broadcast: a send whose record failed never reaches the node.
    return outcome.afterRecord ? outcome.afterRecord(client) : outcome.result;
  }

  private async run(tool: ToolName, args: Record<string, unknown>): Promise<Outcome> {
    switch (tool) {
      case 'get_address': {
        const s = await this.openSigner();
        return allowed(s, { address: s.address, keyId: s.keyId, publicKey: s.publicKey });
      }
      case 'health_check':
        return { record: { decision: 'allowed' }, result: { ok: true, value: await this.health() } };
      case 'sign_message':
        return this.signMessage(args);
      case 'sign_typed_data':
        return this.signTypedData(args);
      case 'sign_transaction':
        return this.signTransaction(args);
      case 'verify_signature':
        return this.verify(args);
      case 'verify_audit':
        return this.verifyAudit();
      case 'simulate':
        return this.simulate(args);
      case 'get_balance':
        return this.balance(args);
      case 'send_transaction':
        return this.sendTransaction(args);
    }
  }

  private openSigner(): Promise<EvmSigner> {
    if (!this.signer) {
      this.signer = this.deps.openSigner();
      this.signer.catch(() => (this.signer = undefined)); // a failed open is retried on the next call
    }
    return this.signer;
  }

  private async health(): Promise<Record<string, unknown>> {
    const { info, policy } = this.deps;
    const out: Record<string, unknown> = {
      key: info.keyRef,
      region: info.region ?? null,
      auditLog: info.auditLog ?? null,
      policy: info.policyFile ?? null,
      signing: policy ? 'per policy' : 'denied (no --policy)',
    };
    try {
      const s = await this.openSigner();
      out.address = s.address;
      if (this.deps.keyState) Object.assign(out, { keyState: (await this.deps.keyState()).state });
      out.healthy = true;
    } catch (err) {
      Object.assign(out, { healthy: false, error: codeOf(err), message: messageOf(err) });
    }
    return out;
  }

  private async signMessage(args: Record<string, unknown>): Promise<Outcome> {
    const message: SignableMessage = parseMessage(stringArg(args, 'message'));
    const decision = decideMessage(this.deps.policy);
    if (!decision.allowed) return denied(decision);
    const s = await this.openSigner();
    const { hash, signature } = await signMessageWith(s, message);
    return allowed(s, { address: s.address, hash, signature }, { signature_hash: keccak256(signature) });
  }

  private async signTypedData(args: Record<string, unknown>): Promise<Outcome> {
    const data = parseTypedData(jsonArg(args, 'typedData'), 'typedData');
    const decision = decideTypedData(this.deps.policy, data);
    if (!decision.allowed) return denied(decision);
    const s = await this.openSigner();
    const { hash, signature } = await signTypedDataWith(s, data);
    return allowed(
      s,
      { address: s.address, hash, signature },
      {
        signature_hash: keccak256(signature),
        ...(data.domain.chainId !== undefined ? { chain_id: Number(data.domain.chainId) } : {}),
      },
    );
  }

  private async signTransaction(args: Record<string, unknown>): Promise<Outcome> {
    const tx = parseTransactionInput(jsonArg(args, 'transaction'), 'transaction');
    const { decision } = evaluateTransaction(this.deps.policy, tx, await this.decideContext(args));
    if (!decision.allowed)
      return { ...denied(decision), record: { ...denied(decision).record, chain_id: tx.chainId! } };
    const s = await this.openSigner();
    const { raw, txHash, signingHash } = await signTransactionWith(s, tx);
    return allowed(
      s,
      { address: s.address, raw, txHash, signingHash, type: tx.type },
      { signature_hash: keccak256(raw), tx_hash: txHash, chain_id: tx.chainId! },
    );
  }

  /** The signer's own address (when its key can be reached) and the caller's swap quote. */
  private async decideContext(args: Record<string, unknown>): Promise<DecideContext> {
    const quote = quoteArg(args);
    const self = await this.openSigner().then(
      (s) => s.address,
      () => undefined,
    );
    return { ...(self ? { self } : {}), ...(quote ? { quote } : {}) };
  }

  /** The decision a signing call would get, and the decoded intent, without signing anything. */
  private async simulate(args: Record<string, unknown>): Promise<Outcome> {
    const given = ['transaction', 'typedData', 'message'].filter((k) => args[k] !== undefined);
    if (given.length !== 1)
      throw new AgentkeysError({
        code: 'MCP_ARGUMENT_INVALID',
        message: `simulate takes exactly one of transaction, typedData or message (got ${given.length})`,
      });
    const { decision, decoded } = await this.wouldDecide(given[0]!, args);
    const value: Record<string, unknown> = {
      wouldSign: decision.allowed,
      ...(decision.allowed ? {} : { rule: decision.rule, reason: decision.reason }),
      ...(decoded ? { decoded } : {}),
    };
    const record: Partial<DecisionRecord> = decision.allowed
      ? { decision: 'allowed', simulated: 'allowed' }
      : { decision: 'allowed', simulated: 'denied', rule: decision.rule, reason: decision.reason };
    return { record, result: { ok: true, value } };
  }

  private async wouldDecide(
    kind: string,
    args: Record<string, unknown>,
  ): Promise<{ decision: Decision; decoded?: Record<string, unknown> }> {
    if (kind === 'message') {
      parseMessage(stringArg(args, 'message'));
      return simulateDecision(this.deps.policy, { message: true });
    }
    if (kind === 'typedData')
      return simulateDecision(this.deps.policy, { typedData: parseTypedData(jsonArg(args, 'typedData'), 'typedData') });
    const transaction = parseTransactionInput(jsonArg(args, 'transaction'), 'transaction');
    return simulateDecision(this.deps.policy, { transaction }, await this.decideContext(args));
  }

  private rpc(): EvmRpc {
    if (!this.deps.rpc)
      throw new AgentkeysError({
        code: 'MCP_NO_RPC',
        message: 'the server runs without --rpc-url: there is no node to ask',
        hint: 'start it with --rpc-url http://… (and --allow-send for send_transaction)',
      });
    return this.deps.rpc;
  }

  private async balance(args: Record<string, unknown>): Promise<Outcome> {
    const rpc = this.rpc();
    const address =
      args.address !== undefined
        ? checksumAddress(stringArg(args, 'address'), 'address')
        : (await this.openSigner()).address;
    const token = args.token !== undefined ? checksumAddress(stringArg(args, 'token'), 'token') : undefined;
    const [chainId, balance] = await Promise.all([
      rpc.chainId(),
      token ? rpc.tokenBalance(token, address) : rpc.balance(address),
    ]);
    return {
      record: { decision: 'allowed', chain_id: chainId },
      result: {
        ok: true,
        value: { address, chainId, ...(token ? { token } : {}), balanceWei: balance.toString() },
      },
    };
  }

  /** sign_transaction, then (once its decision is in the chain) a broadcast to the --rpc-url node. */
  private async sendTransaction(args: Record<string, unknown>): Promise<Outcome> {
    if (!this.deps.allowSend)
      throw new AgentkeysError({
        code: 'MCP_SEND_DISABLED',
        message: 'send_transaction is off: the server was started without --allow-send',
        hint: 'sign_transaction returns the raw transaction for the caller to broadcast',
      });
    const rpc = this.rpc();
    const tx = parseTransactionInput(jsonArg(args, 'transaction'), 'transaction');
    const nodeChain = await rpc.chainId();
    if (nodeChain !== tx.chainId)
      throw new AgentkeysError({
        code: 'EVM_RPC_CHAIN_MISMATCH',
        message: `the transaction is for chain ${tx.chainId}, and the --rpc-url node serves chain ${nodeChain}`,
      });
    const signed = await this.signTransaction(args);
    if (!signed.result.ok) return signed;
    const value = signed.result.value;
    const raw = value.raw as Hex;
    return {
      ...signed,
      afterRecord: async (client) => {
        try {
          const txHash = await rpc.sendRaw(raw);
          return { ok: true, value: { ...value, broadcast: true, txHash } };
        } catch (err) {
          const why = messageOf(err).split('\n')[0];
          const message = `the signed transaction was not accepted by the node: ${why}`;
          await this.deps
            .record(
              recordable({
                tool: 'send_transaction',
                decision: 'failed',
                request_digest: requestDigest('send_transaction', args),
                error: 'EVM_RPC_FAILED',
                reason: message,
                tx_hash: signed.record.tx_hash!,
              }),
              recordableText(client),
            )
            .catch(() => undefined);
          return { ok: false, code: 'EVM_RPC_FAILED', message };
        }
      },
    };
  }

  private async verify(args: Record<string, unknown>): Promise<Outcome> {
    const address = checksumAddress(stringArg(args, 'address'), 'address');
    const target: VerifyTarget =
      args.rawTransaction !== undefined
        ? { rawTransaction: stringArg(args, 'rawTransaction') as Hex }
        : args.typedData !== undefined
          ? { typedData: parseTypedData(jsonArg(args, 'typedData'), 'typedData') }
          : { message: parseMessage(stringArg(args, 'message')) };
    try {
      await verifyEvmSignature(address, target, args.signature as Hex | undefined);
      return { record: { decision: 'allowed' }, result: { ok: true, value: { valid: true, address } } };
    } catch (err) {
      if (!isAgentkeysError(err) || exitCodeOf(err) !== 3) throw err;
      return {
        record: { decision: 'allowed' },
        result: { ok: true, value: { valid: false, address, reason: err.message } },
      };
    }
  }

  private async verifyAudit(): Promise<Outcome> {
    if (!this.deps.verifyAudit)
      return {
        record: { decision: 'failed', error: 'MCP_NO_AUDIT_LOG' },
        result: {
          ok: false,
          code: 'MCP_NO_AUDIT_LOG',
          message: 'the server runs without --audit-log: there is no chain to verify',
        },
      };
    const r = await this.deps.verifyAudit();
    return {
      record: { decision: 'allowed' },
      result: { ok: true, value: { ok: r.ok, events: r.events, head: r.head, findings: r.findings.slice(0, 50) } },
    };
  }
}

interface Outcome {
  record: Partial<DecisionRecord>;
  result: ToolResult;
  /** Work done only once the record is in the chain (a broadcast); its result is the call's. */
  afterRecord?(client: string): Promise<ToolResult>;
}

function allowed(s: EvmSigner, value: Record<string, unknown>, extra: Partial<DecisionRecord> = {}): Outcome {
  return { record: { decision: 'allowed', address: s.address, key: s.keyId, ...extra }, result: { ok: true, value } };
}

function denied(d: Extract<Decision, { allowed: false }>): Outcome {
  return {
    record: { decision: 'denied', rule: d.rule, reason: d.reason },
    result: { ok: false, code: 'POLICY_DENIED', rule: d.rule, message: `denied by rule "${d.rule}": ${d.reason}` },
  };
}

function failure(err: unknown): ToolResult {
  return {
    ok: false,
    code: codeOf(err),
    message: isAgentkeysError(err) ? err.message : `internal error: ${messageOf(err)}`,
  };
}

function codeOf(err: unknown): string {
  return err instanceof AgentkeysError ? err.code : 'INTERNAL';
}

// A lone UTF-16 surrogate is not I-JSON (the chain refuses it) and U+0000 is no PostgreSQL text:
// either in an agent's input would drop the record of its call. They are written as visible
// \uXXXX escapes instead, so every decision reaches the chain.
const UNRECORDABLE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|\u0000/g;

export function recordableText(text: string): string {
  return text.replace(UNRECORDABLE, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

function recordable(record: DecisionRecord): DecisionRecord {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(record)) out[k] = typeof v === 'string' ? recordableText(v) : v;
  return out as unknown as DecisionRecord;
}

/** SHA-256 of the canonical arguments: proves later what was asked without storing it. */
export function requestDigest(tool: string, args: Record<string, unknown>): string {
  return createHash('sha256')
    .update(canonicalJson({ tool, args: JSON.parse(JSON.stringify(args ?? {})) as JsonValue }))
    .digest('hex');
}

function stringArg(args: Record<string, unknown>, name: string): string {
  const v = args[name];
  if (typeof v !== 'string')
    throw new AgentkeysError({ code: 'MCP_ARGUMENT_INVALID', message: `argument "${name}" must be a string` });
  return v;
}

/** quote: {amountOut} for an exact-input swap, {amountIn} for an exact-output one, in base units. */
function quoteArg(args: Record<string, unknown>): DecideContext['quote'] {
  const q = args.quote;
  if (q === undefined) return undefined;
  const bad = () =>
    new AgentkeysError({
      code: 'MCP_ARGUMENT_INVALID',
      message: 'argument "quote" must be {"amountOut": "<decimal>"} or {"amountIn": "<decimal>"}',
    });
  if (typeof q !== 'object' || q === null) throw bad();
  const out: NonNullable<DecideContext['quote']> = {};
  for (const [k, v] of Object.entries(q)) {
    if ((k !== 'amountOut' && k !== 'amountIn') || !/^\d{1,78}$/.test(String(v))) throw bad();
    out[k] = BigInt(String(v));
  }
  return out;
}

/** Objects may arrive as JSON objects or as JSON text, depending on the client. */
function jsonArg(args: Record<string, unknown>, name: string): unknown {
  const v = args[name];
  if (typeof v !== 'string') return v;
  try {
    return JSON.parse(v);
  } catch {
    throw new AgentkeysError({
      code: 'MCP_ARGUMENT_INVALID',
      message: `argument "${name}" is neither an object nor JSON text`,
    });
  }
}
