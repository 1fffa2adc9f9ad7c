import { parseTimeBound } from '../src/audit/query.js';
import { redactUrl } from '../src/db/pg.js';
import { connectAgentidp, requireDatabaseUrl } from './db-url.js';
import { pruneAuditTable } from '../src/db/prune.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { createContext, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';

export interface AuditPruneOptions extends GlobalOptions {
  databaseUrl?: string;
  table?: string;
  before?: string;
  plan?: boolean;
}

/** `agentkeys audit prune`: AgentIdP's audit retention; --plan counts, exit 4 when rows would go. */
export async function runAuditPrune(options: AuditPruneOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const url = requireDatabaseUrl(ctx, 'audit prune', "(AgentIdP's database)");
  if (!options.before || !options.table)
    throw new UsageError({
      code: 'FLAG_MISSING',
      message: '--table and --before are required: which table, and up to when',
      hint: '--table audit_events --before 90d',
    });
  const before = parseTimeBound(options.before, '--before');
  const client = await connectAgentidp(ctx, url);
  try {
    const r = await pruneAuditTable(client, options.table, before, { plan: options.plan === true });
    if (ctx.out.json) printJson({ ok: true, database: redactUrl(url), ...r });
    else
      printLine(
        r.applied
          ? `${style.ok('✔')} deleted ${r.rows} row(s) of ${r.table} older than ${r.before} (by ${r.column})`
          : `  ${r.rows} row(s) of ${r.table} older than ${r.before} would be deleted (by ${r.column})`,
      );
    return options.plan && r.rows > 0 ? 4 : 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}
