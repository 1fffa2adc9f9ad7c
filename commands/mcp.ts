import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { McpMetrics } from '../src/mcp/metrics.js';
import { messageOf } from '../src/sys/operator-file.js';
import { promises as fsp } from 'node:fs';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { appendUnsignedEvents, CheckpointScheduler, type SchedulerPolicy } from '../src/audit/checkpointing.js';
import { parseDurationMs } from '../src/audit/query.js';
import type { NewEvent } from '../src/audit/record.js';
import { parseWholeNumber } from './options.js';
import { verifyAuditLog } from '../src/store/verify.js';
import { KmsSigner } from '../src/signing/kms-signer.js';
import { redactUrl } from '../src/db/pg.js';
import { AgentkeysError, UsageError, VerificationError, type ExitCode } from '../src/errors.js';
import { checksumAddress } from '../src/evm/secp256k1.js';
import { readPolicyFile, type EvmPolicy } from '../src/evm/policy.js';
import { openRpc } from '../src/evm/rpc.js';
import { openEvmSigner } from '../src/evm/signer.js';
import { createMcpServer, listedTools } from '../src/mcp/server.js';
import { Vault, type DecisionRecord, type VaultDeps } from '../src/mcp/vault.js';
import { publishSigner } from '../src/signing/publish.js';
import { resolveSigner } from '../src/signing/resolve.js';
import type { AuditSigner } from '../src/signing/signer.js';
import { openStore } from '../src/store/store.js';
import { createContext, writerStoreOptions, type CommandContext, type GlobalOptions } from './context.js';
import { evmKeyRef } from '../src/evm/signer.js';
import { appendSigned, writerOptions } from './audit-writer.js';

export interface McpOptions extends GlobalOptions {
  keyId?: string;
  policy?: string;
  signers?: string;
  dir?: string;
  checkpointEvery?: string;
  checkpointInterval?: string;
  expectedAddress?: string;
  rpcUrl?: string;
  allowSend?: boolean;
  metricsPort?: string;
}

// A long-running server rides out KMS throttling: up to 8 attempts with the SDK's backoff.
const KMS_MAX_ATTEMPTS = 8;

export async function runMcp(options: McpOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options }, { preferVaultRegion: true, kmsMaxAttempts: KMS_MAX_ATTEMPTS });
  const keyRef = evmKeyRef(undefined, ctx.config);
  const policy = options.policy ? await readPolicyFile(options.policy) : undefined;
  const policyDigest = options.policy ? await fileDigest(options.policy) : undefined;
  const auditLog = ctx.config.auditLog;
  if (policy && !auditLog) {
    throw new UsageError({
      code: 'MCP_AUDIT_LOG_REQUIRED',
      message: 'a signing policy needs --audit-log: every signing decision goes into the audit chain',
      hint: '--audit-log .agentkeys/mcp-audit.jsonl (or a postgres:// URL)',
    });
  }
  if (options.allowSend && !options.rpcUrl)
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: '--allow-send needs --rpc-url: there is no node to send to',
      hint: '--rpc-url http://127.0.0.1:8545 --allow-send',
    });
  const rpc = options.rpcUrl ? openRpc(options.rpcUrl) : undefined;
  const metrics = options.metricsPort !== undefined ? new McpMetrics() : undefined;
  if (metrics) ctx.services.onKmsCall((call) => metrics.observeKms(call));
  const metricsServer = metrics
    ? await serveMetrics(metrics, parseWholeNumber(options.metricsPort!, '--metrics-port', { min: 1, max: 65535 }))
    : undefined;
  const checkpoints = checkpointPolicy(options, auditLog);
  const audit = auditLog ? await openDecisionLog(ctx, auditLog, keyRef, checkpoints) : undefined;
  const deps: VaultDeps = {
    openSigner: () => openEvmSigner(keyRef, () => ctx.services.kms(), options.dir ?? ctx.config.dir),
    ...(keyRef.startsWith('kms:') ? { keyState: () => keyState(ctx, keyRef.slice(4)) } : {}),
    policy,
    record: async (record, client) => {
      metrics?.observeDecision(record);
      await audit?.record(record, client);
      ctx.services.trail.drainEvents(); // the decision chain is the record; nothing accumulates
    },
    ...(auditLog
      ? {
          verifyAudit: () =>
            verifyAuditLog({
              log: auditLog,
              signersPath: ctx.config.signersPath,
              hmacKeyFiles: {},
              slackMs: 60_000,
              statementTimeoutMs: ctx.config.pgStatementTimeoutMs,
            }),
        }
      : {}),
    info: {
      keyRef,
      ...(ctx.config.region ? { region: ctx.config.region } : {}),
      ...(auditLog ? { auditLog: redactUrl(auditLog) } : {}),
      ...(options.policy ? { policyFile: options.policy } : {}),
    },
    ...(rpc ? { rpc, allowSend: options.allowSend === true } : {}),
  };
  const address = options.expectedAddress ? await assertExpectedAddress(deps, options.expectedAddress) : undefined;
  const vault = new Vault(deps);
  const enabled = { rpc: rpc !== undefined, send: rpc !== undefined && options.allowSend === true };
  const server = createMcpServer(vault, '0.1.0', enabled);
  // The server's start is in the chain before any call, with the policy it enforces (by digest).
  await audit?.lifecycle('start', {
    key: keyRef,
    ...(address ? { address } : {}),
    policy_format: policy?.format ?? 'none',
    ...(policyDigest ? { policy_digest: policyDigest } : {}),
    tools: listedTools(enabled).map((t) => t.name),
  });
  await server.connect(new StdioServerTransport());
  process.stderr.write(
    `agentkeys mcp: key ${keyRef}, ${describePolicy(policy)}, audit ${auditLog ? redactUrl(auditLog) : 'off'}` +
      `${rpc ? `, node ${new URL(options.rpcUrl!).host}${enabled.send ? ' (send on)' : ''}` : ''}\n`,
  );
  const reason = await stopSignal();
  // Every request read before the end is answered before the transport closes (issue 22).
  await vault.drain();
  await server.close();
  await audit?.lifecycle('stop', { reason, calls: vault.calls });
  await audit?.close();
  await new Promise((resolve) => (metricsServer ? metricsServer.close(resolve) : resolve(undefined)));
  return 0;
}

/** stdin's end (the client went away) or SIGTERM/SIGINT: either way the server stops in order. */
function stopSignal(): Promise<string> {
  process.removeAllListeners('SIGINT'); // the CLI's default exits 130 at once, before the stop is recorded
  return new Promise((resolve) => {
    process.stdin.once('end', () => resolve('end of input'));
    process.stdin.once('close', () => resolve('end of input'));
    process.once('SIGTERM', () => resolve('SIGTERM'));
    process.once('SIGINT', () => resolve('SIGINT'));
  });
}

async function fileDigest(file: string): Promise<string> {
  return createHash('sha256')
    .update(await fsp.readFile(file))
    .digest('hex');
}

/** --expected-address: a server started on the wrong key refuses to start, before any agent connects. */
async function assertExpectedAddress(deps: VaultDeps, expected: string): Promise<string> {
  const want = checksumAddress(expected, '--expected-address');
  const actual = (await deps.openSigner()).address;
  if (actual !== want)
    throw new VerificationError({
      code: 'MCP_WRONG_KEY',
      message: `the key ${deps.info.keyRef} has address ${actual}, not the expected ${want}`,
      hint: 'check --key-id (or VAULT_KEY_ID): the server did not start',
    });
  return actual;
}

function describePolicy(policy: EvmPolicy | undefined): string {
  return policy ? 'signing per --policy' : 'signing denied (no --policy)';
}

async function keyState(ctx: CommandContext, ref: string): Promise<{ state: string; spec: string; arn: string }> {
  const meta = await (await ctx.services.kms()).describeKey(ref);
  return { state: meta.KeyState ?? 'unknown', spec: meta.KeySpec ?? 'unknown', arn: meta.Arn ?? ref };
}

interface DecisionLog {
  record(record: DecisionRecord, client: string): Promise<void>;
  /** mcp.server_start / mcp.server_stop, by actor mcp:server. */
  lifecycle(what: 'start' | 'stop', payload: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

/**
 * The chain every call goes into, signed by --audit-key, else the configured audit signing key,
 * else the vault key itself (a secp256k1 key signs audit digests too). Its public key is published
 * in signers.json so the chain verifies offline. Appends are serialised in call order.
 */
async function openDecisionLog(
  ctx: CommandContext,
  auditLog: string,
  vaultKeyRef: string,
  checkpoints: SchedulerPolicy | undefined,
): Promise<DecisionLog> {
  const signer = await decisionSigner(ctx, vaultKeyRef);
  if (signer.alg !== 'hmac-sha256' && 'publicKeyPem' in signer) {
    await publishSigner(
      ctx.config.signersPath,
      signer as AuditSigner & { publicKeyPem(): Promise<string> | string },
      signer instanceof KmsSigner ? { keyArn: signer.keyArn } : {},
    );
  }
  const store = openStore(auditLog, writerStoreOptions(ctx));
  // Checkpoint mode: each call is appended unsigned at once, and checkpoints follow on schedule.
  const scheduler =
    checkpoints &&
    (await CheckpointScheduler.open(store, signer, checkpoints, await writerOptions(ctx, signer, store.label)));
  const append = async (event: NewEvent) => {
    if (!scheduler) return void (await appendSigned(ctx, store, signer, [event]));
    scheduler.appended((await appendUnsignedEvents(store, [event])).rows);
  };
  let queue: Promise<unknown> = Promise.resolve();
  const enqueue = (event: NewEvent) => {
    const next = queue.then(() => append(event));
    queue = next.catch(() => undefined);
    return next.then(() => undefined);
  };
  return {
    record: (record, client) =>
      enqueue({ event_type: `mcp.${record.tool}`, actor_id: `mcp:${client}`, payload: { ...record } as never }),
    // The start is checkpointed before any call is taken: the server's first checkpoint answers for
    // it alone, and no call's append races a checkpoint over it.
    lifecycle: async (what, payload) => {
      await enqueue({ event_type: `mcp.server_${what}`, actor_id: 'mcp:server', payload: payload as never });
      if (what === 'start') await scheduler?.flush();
    },
    close: async () => {
      await queue;
      await scheduler?.close();
      await store.close();
    },
  };
}

async function decisionSigner(ctx: CommandContext, vaultKeyRef: string): Promise<AuditSigner> {
  const open = (keyRef?: string) =>
    resolveSigner(keyRef ? { ...ctx.config, keyRef } : ctx.config, {
      openKmsSigner: (ref, kid) => ctx.services.openKmsSigner(ref, { ...(kid ? { kid } : {}), cached: true }),
    });
  if (ctx.config.auditKey) return open(ctx.config.auditKey);
  try {
    return await open();
  } catch (err) {
    if (!(err instanceof AgentkeysError) || err.code !== 'SIGNING_KEY_MISSING') throw err;
    return open(vaultKeyRef);
  }
}

function checkpointPolicy(options: McpOptions, auditLog: string | undefined): SchedulerPolicy | undefined {
  if (!options.checkpointEvery && !options.checkpointInterval) return undefined;
  if (!auditLog) {
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: 'checkpoint mode needs --audit-log',
      hint: '--audit-log .agentkeys/mcp-audit.jsonl',
    });
  }
  return {
    ...(options.checkpointEvery
      ? { every: parseWholeNumber(options.checkpointEvery, '--checkpoint-every', { min: 1 }) }
      : {}),
    ...(options.checkpointInterval
      ? { intervalMs: parseDurationMs(options.checkpointInterval, '--checkpoint-interval') }
      : {}),
  };
}

/**
 * GET /metrics on 127.0.0.1 only (Prometheus's text format); anything else is 404. Loopback: the
 * numbers say what agents asked for, and a scraper on the host (or a tunnel) is the way in.
 */
async function serveMetrics(metrics: McpMetrics, port: number): Promise<Server> {
  const server = createServer((req, res) => {
    if (req.method !== 'GET' || req.url !== '/metrics') return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' }).end(metrics.text());
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', (err) =>
      reject(
        new UsageError({
          code: 'PORT_UNAVAILABLE',
          message: `--metrics-port ${port}: ${messageOf(err)}`,
          hint: 'choose a free port: --metrics-port 9464',
        }),
      ),
    );
    server.listen(port, '127.0.0.1', resolve);
  });
  return server;
}
