import { verifierRegistry } from '../src/signing/registry-input.js';
import { parseWholeNumber } from './options.js';
import { parseAnchor } from '../src/audit/anchor.js';
import { parseTimeBound, type AuditQuery } from '../src/audit/query.js';
import { verifyChainSource } from '../src/audit/verify-source.js';
import { requireLog } from '../src/config/load.js';
import { queryAgentidpAudit } from '../src/db/agentidp-audit.js';
import { redactUrl } from '../src/db/pg.js';
import { connectAgentidp, requireDatabaseUrl } from './db-url.js';
import { isAgentkeysError, UsageError, type ExitCode } from '../src/errors.js';
import { exportChain, type ExportResult } from '../src/store/export.js';
import { withStore, type AuditStore } from '../src/store/store.js';
import { createContext, type CommandContext, type GlobalOptions } from './context.js';
import { openSigner } from './kms-support.js';
import { printable, printJson, printLine, style } from './ui/format.js';
import { count, progressLine, type ProgressLine } from './ui/progress.js';

export interface AuditQueryOptions extends GlobalOptions {
  log?: string;
  source?: string;
  databaseUrl?: string;
  table?: string;
  actor?: string;
  eventType?: string;
  /** Older spellings of --actor and --event-type. */
  agent?: string;
  action?: string;
  since?: string;
  until?: string;
  limit?: string;
}

export async function runAuditQuery(options: AuditQueryOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const source = options.source ?? 'agentkeys';
  if (source !== 'agentkeys' && source !== 'agentidp')
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--source "${source}" is not agentkeys or agentidp`,
      hint: "--source agentidp reads AgentIdP's audit table; without it, agentkeys' chain in --log",
    });
  const query = queryOf(options);
  if (source === 'agentidp') return runAgentidpQuery(ctx, options.table ?? 'audit_events', query);
  const log = requireLog(ctx.config);
  const result = await withStore(log, { statementTimeoutMs: ctx.config.pgStatementTimeoutMs }, (store) =>
    store.query(query),
  );
  if (ctx.out.json) {
    printJson({ ok: true, events: result.events, skippedMalformed: result.skippedMalformed });
    return 0;
  }
  if (result.events.length === 0) printLine(style.dim('no matching events'));
  else
    printTable(result.events.map((e) => [e.created_at, e.actor_id ?? '-', e.event_type, e.id, summarize(e.payload)]));
  if (result.skippedMalformed > 0)
    printLine(
      style.warn(
        `! ${result.skippedMalformed} malformed line(s) skipped; run agentkeys verify-audit --log ${redactUrl(log)}`,
      ),
    );
  printLine(
    style.dim(
      `${result.events.length} event(s), newest first; query results are not ` +
        `a verification (run verify-audit for that)`,
    ),
  );
  return 0;
}

function queryOf(options: AuditQueryOptions): AuditQuery {
  const query: AuditQuery = { limit: parseWholeNumber(options.limit ?? '50', '--limit', { min: 1, max: 100_000 }) };
  const actor = options.actor ?? options.agent;
  const eventType = options.eventType ?? options.action;
  if (actor !== undefined) query.agent = actor;
  if (eventType !== undefined) query.action = eventType;
  if (options.since !== undefined) query.since = parseTimeBound(options.since, '--since');
  if (options.until !== undefined) query.until = parseTimeBound(options.until, '--until');
  return query;
}

/** AgentIdP's own audit events (token.issued, agent.suspended, …), with the same filters and output. */
async function runAgentidpQuery(ctx: CommandContext, table: string, query: AuditQuery): Promise<ExitCode> {
  const url = requireDatabaseUrl(ctx, 'audit query --source agentidp', "(AgentIdP's database)");
  const client = await connectAgentidp(ctx, url);
  try {
    const events = await queryAgentidpAudit(client, table, query);
    if (ctx.out.json) {
      printJson({ ok: true, source: 'agentidp', table, events });
      return 0;
    }
    if (events.length === 0) printLine(style.dim('no matching events'));
    else
      printTable(
        events.map((e) => [
          e.created_at,
          e.actor_id ?? '-',
          e.outcome ? `${e.event_type} (${e.outcome})` : e.event_type,
          e.id,
          summarize(e.payload),
        ]),
      );
    printLine(style.dim(`${events.length} event(s) of AgentIdP's ${table}, newest first; not a signed chain`));
    return 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}

export interface AuditExportOptions extends GlobalOptions {
  log?: string;
  out?: string;
  key?: string;
  signers?: string;
}

export async function runAuditExport(options: AuditExportOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options }, { keyIsSigningKey: true });
  const source = requireLog(ctx.config);
  if (!options.out)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--out is required',
      hint: '--out audit.jsonl or --out postgres://…',
    });
  const opts = { statementTimeoutMs: ctx.config.pgStatementTimeoutMs };
  return withStore(source, opts, (from) => withStore(options.out!, opts, (to) => exportAndCheck(ctx, from, to)));
}

async function exportAndCheck(ctx: CommandContext, source: AuditStore, dest: AuditStore): Promise<ExitCode> {
  const progress = progressLine(ctx.out);
  const result = await exportChain(source, dest, (n) =>
    progress.update(`  copying ${source.label} → ${dest.label}: ${count(n)} events…`),
  ).finally(() => progress.done());
  const anchor =
    dest.anchorPath === null || result.events === 0 ? 'none' : await anchorExport(ctx, source, dest, result);
  const verdict = await verifyCopy(ctx, dest, result.firstBrokenLink, progress).finally(() => progress.done());
  if (ctx.out.json) {
    printJson({
      ok: verdict.state !== 'failed',
      source: source.label,
      destination: dest.label,
      events: result.events,
      head: result.head,
      verified: verdict.state,
      findings: verdict.findings,
      firstBrokenLink: result.firstBrokenLink,
      anchor,
    });
  } else {
    printExport(source, dest, result, verdict, anchor);
  }
  return verdict.state === 'failed' ? 3 : 0;
}

function printExport(
  source: AuditStore,
  dest: AuditStore,
  result: ExportResult,
  verdict: CopyVerdict,
  anchor: string,
): void {
  const mark =
    verdict.state === 'verified' ? style.ok('✔') : verdict.state === 'failed' ? style.bad('✖') : style.warn('!');
  printLine(`${mark} copied ${result.events} event(s) ${source.label} → ${dest.label}`);
  printLine(style.dim(`  head ${result.head ?? '(empty chain)'} on both sides`));
  if (verdict.state === 'failed')
    printLine(
      style.bad(
        `  the copy does not verify (${verdict.findings.length} problem(s)` +
          `${result.firstBrokenLink ? `, first broken link at event ${result.firstBrokenLink}` : ''}): ` +
          `it is evidence, not a verified log; agentkeys verify-audit --log ${dest.label}`,
      ),
    );
  if (verdict.state === 'unverified') printLine(style.warn(`  ! not verified: ${verdict.reason}`));
  if (anchor === 'copied') printLine(style.dim(`  anchor copied from the source: ${dest.anchorPath}`));
  else if (anchor === 'signed') printLine(style.dim(`  anchor signed for the copy: ${dest.anchorPath}`));
  else if (dest.anchorPath !== null && result.events > 0)
    printLine(
      style.warn(`  ! no anchor for the copy (a dropped tail could not be detected): pass --key KEYREF to sign one`),
    );
}

type CopyVerdict = {
  state: 'verified' | 'failed' | 'unverified';
  findings: { index: number; code: string }[];
  reason?: string;
};

/**
 * The copy is verified with the signer registry (as verify-audit would), so a ✔ means the chain
 * verifies; without a registry only the links were checked, and the output says so.
 */
async function verifyCopy(
  ctx: CommandContext,
  dest: AuditStore,
  firstBrokenLink: number | null,
  progress: ProgressLine,
): Promise<CopyVerdict> {
  const linkFinding = firstBrokenLink === null ? [] : [{ index: firstBrokenLink, code: 'PREV_HASH_MISMATCH' }];
  try {
    const report = await verifyChainSource(dest, {
      signersPath: await verifierRegistry(ctx.config),
      hmacKeyFiles: {},
      slackMs: 60_000,
      onProgress: (events) => progress.update(`  verifying the copy: ${count(events)} events…`),
    });
    return {
      state: report.ok ? 'verified' : 'failed',
      findings: report.findings.map((f) => ({ index: f.index, code: f.code })),
    };
  } catch (err) {
    if (!isAgentkeysError(err) || err.code !== 'REGISTRY_NOT_FOUND') throw err;
    if (firstBrokenLink !== null) return { state: 'failed', findings: linkFinding };
    return {
      state: 'unverified',
      findings: [],
      reason: `no signer registry at ${ctx.config.signersPath} (links checked, signatures not; pass --signers F)`,
    };
  }
}

/**
 * An anchor for an exported file: the source's own when it describes exactly this chain (an anchor
 * names no path), else one signed with --key or the configured signing key, else none.
 */
async function anchorExport(
  ctx: CommandContext,
  source: AuditStore,
  dest: AuditStore,
  result: ExportResult,
): Promise<'copied' | 'signed' | 'none'> {
  const existing = await source.readAnchor();
  const parsed = existing ? parseAnchor(existing.text) : undefined;
  if (existing && typeof parsed === 'object' && parsed.events === result.events && parsed.head === result.head) {
    await dest.copyAnchor(existing.text);
    return 'copied';
  }
  let signer;
  try {
    signer = await openSigner(ctx);
  } catch (err) {
    if (isAgentkeysError(err) && err.code === 'SIGNING_KEY_MISSING') return 'none';
    throw err;
  }
  await dest.signAnchor({ events: result.events, prevHash: result.head }, signer);
  return 'signed';
}

function summarize(payload: unknown): string {
  const text = JSON.stringify(payload);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function printTable(cells: string[][]): void {
  const header = ['created_at', 'actor_id', 'event_type', 'id', 'payload'];
  const rows = cells.map((r) => r.map(printable));
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  printLine(style.bold(line(header)));
  for (const r of rows) printLine(line(r));
}
