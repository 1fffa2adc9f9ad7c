import { promises as fsp } from 'node:fs';
import { AgentkeysError, UsageError } from '../errors.js';
import { isDigestHex } from './canonical.js';
import { readLineChunks } from '../store/file-chunks.js';
import { connectPg, isPostgresUrl, pgError, redactUrl } from '../db/pg.js';
import { inspectChain, streamChainChunks } from '../store/pg-log.js';
import type { Finding } from './findings.js';
import { digestRow } from './record.js';
import { readRows } from './rows.js';
import { parseSignerRegistryLenient, readRegistryText } from '../signing/registry.js';
import { anchorPathFor, readAnchorIfExists } from './anchor.js';
import type { KeyRingData } from './keyring.js';
import { defaultWorkerCount, verifyChain, type VerifyReport } from './verify-log.js';

export interface VerifyAuditOptions {
  /** A JSON Lines path or a postgres:// URL. */
  log: string;
  statementTimeoutMs?: number;
  signersPath: string;
  /** kid → file holding the UTF-8 HMAC secret. */
  hmacKeyFiles: Record<string, string>;
  /** Anchor path; undefined means `<log>.anchor.json` if it exists; false means none. */
  anchor?: string | false;
  trustedStart?: string;
  workers?: number;
  slackMs: number;
  /** Check HMAC (or all) signatures with KMS; needs checkDeferred. */
  kmsVerify?: 'off' | 'hmac' | 'all';
  checkDeferred?: Parameters<typeof verifyChain>[1]['checkDeferred'];
  /** Events verified, bytes read and the log's size (0 for Postgres), for a progress line. */
  onProgress?: (events: number, bytes: number, totalBytes: number) => void;
}

export interface VerifyAuditReport extends VerifyReport {
  registryWarnings: string[];
  anchorPath: string | null;
}

/**
 * Offline verification of a JSON Lines log, or of Agent Manager's audit_events table, from
 * signers.json alone (plus HMAC secrets). Both go through the same chunked verifier.
 */
export async function verifyAuditLog(opts: VerifyAuditOptions): Promise<VerifyAuditReport> {
  if (opts.trustedStart !== undefined && !isDigestHex(opts.trustedStart)) {
    throw new UsageError({ code: 'DIGEST_INVALID', message: `--from "${opts.trustedStart}" is not 64 lowercase hex characters`, hint: 'pass the hex digest of the last event before this log starts' });
  }
  const isPg = isPostgresUrl(opts.log);
  const size = isPg ? 0 : await logSize(opts.log); // a missing log is reported before anything else
  const hmacSecrets = await readHmacSecrets(opts.hmacKeyFiles);
  const { keys, warnings } = await loadKeyRing(opts.signersPath, hmacSecrets, opts.slackMs, opts.kmsVerify ?? 'off');
  // A file's anchor sits beside it; a database has none unless the operator names one.
  const anchorPath = opts.anchor === false ? null : (opts.anchor ?? (isPg ? null : anchorPathFor(opts.log)));
  const anchorFile = anchorPath === null ? undefined : await readAnchorIfExists(anchorPath);
  if (opts.anchor && !anchorFile) {
    throw new UsageError({ code: 'ANCHOR_NOT_FOUND', message: `anchor ${opts.anchor} does not exist`, hint: 'drop --anchor to use <log>.anchor.json when present' });
  }
  const onProgress = opts.onProgress;
  const common = {
    keys,
    ...(onProgress ? { onProgress: (events: number, bytes: number) => onProgress(events, bytes, size) } : {}),
    ...(opts.checkDeferred ? { checkDeferred: opts.checkDeferred } : {}),
    ...(opts.trustedStart ? { trustedStart: opts.trustedStart } : {}),
    ...(anchorFile ? { anchorText: anchorFile.text } : {}),
  };
  const report = isPg ? await verifyPg(opts, common) : await verifyChain(readLineChunks(opts.log), { ...common, workers: opts.workers ?? defaultWorkerCount(size) });
  const findings = await labelOrphans(opts, report.findings);
  return { ...report, findings, registryWarnings: warnings, anchorPath: anchorFile ? anchorPath : null };
}

// Roughly the number of events whose verification pays for starting worker threads.
const PARALLEL_THRESHOLD_ROWS = 3000;

async function verifyPg(opts: VerifyAuditOptions, common: Omit<Parameters<typeof verifyChain>[1], 'workers'>): Promise<VerifyReport> {
  const client = await connectPg({ url: opts.log, ...(opts.statementTimeoutMs ? { statementTimeoutMs: opts.statementTimeoutMs } : {}) });
  try {
    const info = await inspectChain(client).catch((err) => Promise.reject(pgError(err, `reading ${redactUrl(opts.log)}`)));
    const rows = Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0]!.n);
    const workers = opts.workers ?? (rows >= PARALLEL_THRESHOLD_ROWS ? defaultWorkerCount(Number.MAX_SAFE_INTEGER) : 0);
    const report = await verifyChain(streamChainChunks(client, info.sequenced), { ...common, workers });
    return { ...report, findings: labelForks(report.findings, info.forkedIds) };
  } finally {
    await client.end().catch(() => undefined);
  }
}

/**
 * A broken link is an orphan when the digest it names belongs to no event in the log (the event
 * it followed was deleted), rather than to an event elsewhere (reordering, a fork). Only when
 * there are broken links, one more streaming pass recomputes the digests (no signature checks).
 */
async function labelOrphans(opts: VerifyAuditOptions, findings: Finding[]): Promise<Finding[]> {
  const wanted = new Set(findings.filter((f) => f.code === 'PREV_HASH_MISMATCH' && f.linksTo).map((f) => f.linksTo!));
  if (wanted.size === 0) return findings;
  const found = new Set<string>();
  for await (const row of readRows(opts.log, { skipMalformed: true, ...(opts.statementTimeoutMs ? { statementTimeoutMs: opts.statementTimeoutMs } : {}) })) {
    const digest = digestRow(row.payload, row.prev_hash).digest.toString('hex');
    if (wanted.has(digest)) found.add(digest);
  }
  // Only intact rows after intact rows: a tampered neighbour explains the broken link by itself.
  const flagged = (index: number, except: Finding) => findings.some((x) => x.index === index && x !== except);
  return findings.map((f) =>
    f.code === 'PREV_HASH_MISMATCH' && f.linksTo && !found.has(f.linksTo) && !flagged(f.index, f) && !flagged(f.index - 1, f)
      ? { ...f, code: 'ORPHAN' as const, message: `links to ${f.linksTo}, which is no event in this log: the events between were removed` }
      : f,
  );
}

/** A broken link on a row that shares its prev_hash with an earlier row is a fork, and says so. */
function labelForks(findings: Finding[], forkedIds: Set<string>): Finding[] {
  if (forkedIds.size === 0) return findings;
  const out = findings.map((f) =>
    f.code === 'PREV_HASH_MISMATCH' && f.id !== null && forkedIds.has(f.id)
      ? { ...f, code: 'FORK' as const, message: `another event already links to the same prev_hash: the chain forks here (${f.message})` }
      : f,
  );
  const reported = new Set(out.filter((f) => f.code === 'FORK').map((f) => f.id));
  for (const id of forkedIds) {
    if (!reported.has(id)) out.push({ index: 0, id, code: 'FORK', message: 'another event links to the same prev_hash: the chain forks' });
  }
  return out.sort((a, b) => a.index - b.index);
}

async function logSize(log: string): Promise<number> {
  let stat;
  try {
    stat = await fsp.stat(log);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new AgentkeysError({ code: code === 'ENOENT' ? 'LOG_NOT_FOUND' : 'LOG_UNREADABLE', message: `cannot read log ${log}: ${code ?? (err as Error).message}`, hint: 'check the --log path', cause: err });
  }
  if (!stat.isFile()) {
    throw new UsageError({ code: 'LOG_NOT_A_FILE', message: `${log} is ${stat.isDirectory() ? 'a directory' : 'not a regular file'}, not a JSON Lines log`, hint: 'pass the log file itself, e.g. --log audit.jsonl, or a postgres:// URL' });
  }
  return stat.size;
}

async function loadKeyRing(signersPath: string, hmacSecrets: Record<string, string>, slackMs: number, kmsVerify: 'off' | 'hmac' | 'all'): Promise<{ keys: KeyRingData; warnings: string[] }> {
  let text: string;
  try {
    text = await readRegistryText(signersPath);
  } catch (err) {
    // HMAC-only logs need no registry: the secrets are the keys.
    if (err instanceof AgentkeysError && err.code === 'REGISTRY_NOT_FOUND' && (Object.keys(hmacSecrets).length > 0 || kmsVerify === 'all')) {
      return { keys: { signers: [], rejected: {}, hmacSecrets, slackMs, kmsVerify }, warnings: [] };
    }
    throw err;
  }
  const parsed = parseSignerRegistryLenient(text, signersPath);
  return { keys: { signers: parsed.registry.signers, rejected: parsed.rejected, hmacSecrets, slackMs, kmsVerify }, warnings: parsed.problems };
}

async function readHmacSecrets(files: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [kid, file] of Object.entries(files)) {
    let text: string;
    try {
      text = await fsp.readFile(file, 'utf8');
    } catch (err) {
      throw new UsageError({ code: 'HMAC_KEY_UNREADABLE', message: `cannot read HMAC secret for ${kid} from ${file}: ${(err as NodeJS.ErrnoException).code}`, hint: 'pass --hmac-key KID=FILE with a readable file', cause: err });
    }
    // One trailing newline is an artefact of `echo secret > file`, not part of the secret.
    out[kid] = Buffer.from(text.replace(/\r?\n$/, ''), 'utf8').toString('base64');
  }
  return out;
}
