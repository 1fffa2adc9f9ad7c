import { parseWholeNumber } from './options.js';
import { exportChain } from '../src/audit/export.js';
import { parseTimeBound, queryAudit, type AuditQuery } from '../src/audit/query.js';
import { requireLog } from '../src/config/load.js';
import { redactUrl } from '../src/db/pg.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { createContext, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';

export interface AuditQueryOptions extends GlobalOptions {
  log?: string;
  agent?: string;
  action?: string;
  since?: string;
  until?: string;
  limit?: string;
}

export async function runAuditQuery(options: AuditQueryOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const log = requireLog(ctx.config);
  const query: AuditQuery = { limit: parseWholeNumber(options.limit ?? '50', '--limit', { min: 1, max: 100_000 }) };
  if (options.agent !== undefined) query.agent = options.agent;
  if (options.action !== undefined) query.action = options.action;
  if (options.since !== undefined) query.since = parseTimeBound(options.since, '--since');
  if (options.until !== undefined) query.until = parseTimeBound(options.until, '--until');
  const result = await queryAudit(log, query, ctx.config.pgStatementTimeoutMs);
  if (ctx.out.json) {
    printJson({ ok: true, events: result.events, skippedMalformed: result.skippedMalformed });
    return 0;
  }
  if (result.events.length === 0) printLine(style.dim('no matching events'));
  else printTable(result.events.map((e) => [e.created_at, e.actor_id ?? '-', e.event_type, e.id, summarize(e.payload)]));
  if (result.skippedMalformed > 0) printLine(style.warn(`! ${result.skippedMalformed} malformed line(s) skipped; run agentkeys verify-audit --log ${redactUrl(log)}`));
  printLine(style.dim(`${result.events.length} event(s), newest first; query results are not a verification (run verify-audit for that)`));
  return 0;
}

export interface AuditExportOptions extends GlobalOptions {
  log?: string;
  out?: string;
}

export async function runAuditExport(options: AuditExportOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const source = requireLog(ctx.config);
  if (!options.out) throw new UsageError({ code: 'FLAG_MISSING', message: '--out is required', hint: '--out audit.jsonl or --out postgres://…' });
  const result = await exportChain(source, options.out, ctx.config.pgStatementTimeoutMs);
  if (ctx.out.json) printJson({ ok: true, source: redactUrl(source), destination: redactUrl(options.out), events: result.events, head: result.head });
  else {
    printLine(`${style.ok('✔')} copied ${result.events} event(s) ${redactUrl(source)} → ${redactUrl(options.out)}`);
    printLine(style.dim(`  head ${result.head ?? '(empty chain)'} on both sides`));
  }
  return 0;
}

function summarize(payload: unknown): string {
  const text = JSON.stringify(payload);
  return text.length > 60 ? `${text.slice(0, 59)}…` : text;
}

function printTable(rows: string[][]): void {
  const header = ['created_at', 'actor_id', 'event_type', 'id', 'payload'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ');
  printLine(style.bold(line(header)));
  for (const r of rows) printLine(line(r));
}
