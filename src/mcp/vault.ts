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
import { decideMessage, decideTransaction, decideTypedData, type Decision, type EvmPolicy } from '../evm/policy.js';
import { checksumAddress } from '../evm/secp256k1.js';
import type { EvmSigner } from '../evm/signer.js';

export type ToolName =
  | 'get_address'
  | 'health_check'
  | 'sign_message'
  | 'sign_typed_data'
  | 'sign_transaction'
  | 'verify_signature'
  | 'verify_audit';

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
}

export type ToolResult =
  | { ok: true; value: Record<string, unknown> }
  | { ok: false; code: string; message: string; rule?: string; auditWarning?: string };

const SIGNING_TOOLS = new Set<ToolName>(['sign_message', 'sign_typed_data', 'sign_transaction']);

export class Vault {
  private signer: Promise<EvmSigner> | undefined;
  private readonly inFlight = new Set<Promise<unknown>>();

  constructor(private readonly deps: VaultDeps) {}

  /** Every call, tracked until its result is back, so a server that is told to stop can answer it first. */
  call(tool: ToolName, args: Record<string, unknown>, client = 'unknown'): Promise<ToolResult> {
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
      const why = `the call could not be recorded in the audit chain: ${(err as Error).message}`;
      // Fail closed: a signature whose decision is not in the chain is never handed out. Other
      // results (refusals, errors, health) carry no secret and are returned with the warning.
      if (outcome.result.ok && SIGNING_TOOLS.has(tool))
        return { ok: false, code: 'MCP_AUDIT_WRITE_FAILED', message: `${why}; the signature is withheld` };
      return outcome.result.ok
        ? { ok: true, value: { ...outcome.result.value, auditWarning: why } }
        : { ...outcome.result, auditWarning: why };
    }
    return outcome.result;
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
      Object.assign(out, { healthy: false, error: codeOf(err), message: (err as Error).message });
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
    const decision = decideTransaction(this.deps.policy, tx);
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
    message: isAgentkeysError(err) ? err.message : `internal error: ${(err as Error).message}`,
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
