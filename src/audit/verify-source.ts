import { AgentkeysError, UsageError } from '../errors.js';
import { withSpan } from '../sys/tracing.js';
import {
  parseSignerRegistryLenient,
  readRegistryText,
  registrySourceName,
  type RegistryInput,
  type SignerEntry,
} from '../signing/registry.js';
import { isDigestHex } from './canonical.js';
import type { ChainSource, ChainSourceInfo } from './chain.js';
import { SpareBuffers } from './line-chunks.js';
import { collapseNotJsonLines, exitCodeOfFindings, type Finding } from './findings.js';
import type { KeyRingData } from './keyring.js';
import { digestRow } from './record.js';
import { defaultWorkerCount, verifyChain, type VerifyReport } from './verify-log.js';
import { readOperatorText } from '../sys/operator-file.js';

export interface VerifyAuditOptions {
  signersPath: RegistryInput;
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
  /** Checkpoints from elsewhere (a witness), checked like the store's own. */
  extraCheckpoints?: readonly string[];
  /** Anchors from elsewhere (a witness of a per-row log), checked like the anchor file. */
  extraAnchors?: readonly string[];
  /** Findings about that elsewhere (a witness object under the wrong key). */
  extraFindings?: readonly Finding[];
  /** The origin the checkpoints must name (--origin). */
  expectedOrigin?: string;
  /** Events verified, bytes read and the log's size (0 for Postgres), for a progress line. */
  onProgress?: (events: number, bytes: number, totalBytes: number) => void;
}

export interface VerifyAuditReport extends VerifyReport {
  registryWarnings: string[];
  anchorPath: string | null;
}

/**
 * Offline verification of a chain from signers.json alone (plus HMAC secrets): a JSON Lines log
 * or Agent Manager's audit_events table, both read by their store as the same chunked lines.
 */
export async function verifyChainSource(source: ChainSource, opts: VerifyAuditOptions): Promise<VerifyAuditReport> {
  if (opts.trustedStart !== undefined && !isDigestHex(opts.trustedStart)) {
    throw new UsageError({
      code: 'DIGEST_INVALID',
      message: `--from "${opts.trustedStart}" is not 64 lowercase hex characters`,
      hint: 'pass the hex digest of the last event before this log starts',
    });
  }
  const info = await source.describe(); // a missing log is reported before anything else
  const hmacSecrets = await readHmacSecrets(opts.hmacKeyFiles);
  const { keys, warnings } = await withSpan('verify.registry', {}, () =>
    loadKeyRing(opts.signersPath, hmacSecrets, opts.slackMs, opts.kmsVerify ?? 'off'),
  );
  const anchorFile = await source.readAnchor(opts.anchor);
  if (opts.anchor && !anchorFile) {
    throw new UsageError({
      code: 'ANCHOR_NOT_FOUND',
      message: `anchor ${opts.anchor} does not exist`,
      hint: 'drop --anchor to use <log>.anchor.json when present',
    });
  }
  const onProgress = opts.onProgress;
  const spare = new SpareBuffers();
  const checkpoints = [...(await source.readCheckpoints()), ...(opts.extraCheckpoints ?? [])];
  const report = await withSpan('verify.chain', { 'agentkeys.log': source.label }, () =>
    verifyChain(source.chunks(spare), {
      spare,
      keys,
      workers: opts.workers ?? workersFor(info),
      ...(onProgress
        ? { onProgress: (events: number, bytes: number) => onProgress(events, bytes, info.sizeBytes) }
        : {}),
      ...(opts.checkDeferred ? { checkDeferred: opts.checkDeferred } : {}),
      ...(opts.trustedStart ? { trustedStart: opts.trustedStart } : {}),
      ...(anchorFile ? { anchorText: anchorFile.text } : {}),
      ...(opts.extraAnchors?.length ? { extraAnchors: opts.extraAnchors } : {}),
      checkpoints,
      ...(opts.expectedOrigin ? { expectedOrigin: opts.expectedOrigin } : {}),
      logRef: source.label,
    }),
  );
  const collapsed = collapseNotJsonLines(report.findings, report.events, source.label);
  const labelled = await labelOrphans(source, labelForks(collapsed, info.forkedIds));
  const findings = [...(opts.extraFindings ?? []), ...labelled];
  return {
    ...report,
    ok: exitCodeOfFindings(findings) !== 3,
    findings,
    registryWarnings: warnings,
    anchorPath: anchorFile ? anchorFile.path : null,
  };
}

// Roughly the number of events whose verification pays for starting worker threads.
const PARALLEL_THRESHOLD_ROWS = 3000;

function workersFor(info: ChainSourceInfo): number {
  if (info.rowCount === undefined) return defaultWorkerCount(info.sizeBytes);
  return info.rowCount >= PARALLEL_THRESHOLD_ROWS ? defaultWorkerCount(Number.MAX_SAFE_INTEGER) : 0;
}

/**
 * A broken link is an orphan when the digest it names belongs to no event in the log (the event
 * it followed was deleted), rather than to an event elsewhere (reordering, a fork). Only when
 * there are broken links, one more streaming pass recomputes the digests (no signature checks).
 */
async function labelOrphans(source: ChainSource, findings: Finding[]): Promise<Finding[]> {
  const wanted = new Set(findings.filter((f) => f.code === 'PREV_HASH_MISMATCH' && f.linksTo).map((f) => f.linksTo!));
  if (wanted.size === 0) return findings;
  const before = new Set(findings.filter((f) => f.code === 'PREV_HASH_MISMATCH').map((f) => f.index - 1));
  const found = new Set<string>();
  const unsignedAt = new Set<number>();
  let index = 0;
  for await (const row of source.rows({ skipMalformed: true })) {
    index++;
    if (before.has(index) && row.signature === null) unsignedAt.add(index);
    const digest = digestRow(row.payload, row.prev_hash).digest.toString('hex');
    if (wanted.has(digest)) found.add(digest);
  }
  // Only intact rows after intact rows: a tampered neighbour explains the broken link by itself.
  const flagged = (at: number, except: Finding) => findings.some((x) => x.index === at && x !== except);
  return findings.map((f) =>
    f.code === 'PREV_HASH_MISMATCH' &&
    f.linksTo &&
    !found.has(f.linksTo) &&
    !flagged(f.index, f) &&
    !flagged(f.index - 1, f)
      ? { ...f, code: 'ORPHAN' as const, message: orphanMessage(f, unsignedAt.has(f.index - 1)) }
      : f,
  );
}

/**
 * A signed predecessor that verifies cannot have been changed, so events were removed; an
 * unsigned one (checkpoint mode) may have been changed instead, and the link cannot tell which.
 */
function orphanMessage(f: Finding, unsignedBefore: boolean): string {
  const what = unsignedBefore
    ? `event ${f.index - 1} (unsigned) was changed, or events between ${f.index - 1} and ${f.index} were removed`
    : 'the events between were removed';
  return `links to ${f.linksTo}, which is no event in this log: ${what}`;
}

/** A broken link on a row that shares its prev_hash with an earlier row is a fork, and says so. */
function labelForks(findings: Finding[], forkedIds: Set<string>): Finding[] {
  if (forkedIds.size === 0) return findings;
  const out = findings.map((f) =>
    f.code === 'PREV_HASH_MISMATCH' && f.id !== null && forkedIds.has(f.id)
      ? {
          ...f,
          code: 'FORK' as const,
          message: `another event already links to the same prev_hash: the chain forks here (${f.message})`,
        }
      : f,
  );
  const reported = new Set(out.filter((f) => f.code === 'FORK').map((f) => f.id));
  for (const id of forkedIds) {
    if (!reported.has(id))
      out.push({ index: 0, id, code: 'FORK', message: 'another event links to the same prev_hash: the chain forks' });
  }
  return out.sort((a, b) => a.index - b.index);
}

export async function loadKeyRing(
  signersPath: RegistryInput,
  hmacSecrets: Record<string, string>,
  slackMs: number,
  kmsVerify: 'off' | 'hmac' | 'all',
): Promise<{ keys: KeyRingData; warnings: string[] }> {
  let text: string;
  try {
    text = await readRegistryText(signersPath);
  } catch (err) {
    // HMAC-only logs need no registry: the secrets are the keys.
    if (err instanceof AgentkeysError && err.code === 'REGISTRY_NOT_FOUND' && Object.keys(hmacSecrets).length > 0) {
      return { keys: { signers: [], rejected: {}, hmacSecrets, slackMs, kmsVerify }, warnings: [] };
    }
    throw err;
  }
  const parsed = parseSignerRegistryLenient(text, registrySourceName(signersPath));
  assertNoHmacOverride(parsed.registry.signers, hmacSecrets);
  return {
    keys: { signers: parsed.registry.signers, rejected: parsed.rejected, hmacSecrets, slackMs, kmsVerify },
    warnings: parsed.problems,
  };
}

/** --hmac-key KID=FILE names an HMAC signer: it never replaces a registry key of another algorithm. */
function assertNoHmacOverride(signers: readonly SignerEntry[], hmacSecrets: Record<string, string>): void {
  for (const kid of Object.keys(hmacSecrets)) {
    const entry = signers.find((s) => s.signerId === kid);
    if (entry && entry.algorithm !== 'hmac-sha256')
      throw new UsageError({
        code: 'HMAC_KEY_CONFLICT',
        message: `--hmac-key ${kid}=… names a signer the registry binds to an ${entry.algorithm} key`,
        hint: `a kid is bound to one key: drop --hmac-key ${kid}, or verify with the registry's key alone`,
      });
  }
}

async function readHmacSecrets(files: Record<string, string>): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const [kid, file] of Object.entries(files)) {
    const text = await readOperatorText(file, {
      code: 'HMAC_KEY_UNREADABLE',
      what: `HMAC secret for ${kid} from`,
      hint: 'pass --hmac-key KID=FILE with a readable file',
    });
    // One trailing newline is an artefact of `echo secret > file`, not part of the secret.
    out[kid] = Buffer.from(text.replace(/\r?\n$/, ''), 'utf8').toString('base64');
  }
  return out;
}
