import {
  applyMigrations,
  createUrlSchema,
  loadMigrations,
  migrationTarget,
  planMigrations,
} from '../src/db/migrate.js';
import { connectPg, redactUrl } from '../src/db/pg.js';
import { requireDatabaseUrl } from './db-url.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { createContext, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';

export interface DbMigrateOptions extends GlobalOptions {
  databaseUrl?: string;
  plan?: boolean;
  /** Another append-only SQL directory (AgentIdP's src/db/migrations), with --table. */
  dir?: string;
  table?: string;
}

export async function runDbMigrate(options: DbMigrateOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const url = requireDatabaseUrl(ctx, 'db migrate', '(a JSON Lines log needs no migration)');
  if ((options.dir === undefined) !== (options.table === undefined))
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: '--dir and --table go together: a directory of migrations and the table that records them',
      hint: '--dir ../agentidp/src/db/migrations --table agentidp_applied (agentkeys own: neither)',
    });
  const target = migrationTarget(options.table);
  const migrations = await loadMigrations(options.dir);
  const client = await connectPg({ url, statementTimeoutMs: ctx.config.pgStatementTimeoutMs });
  try {
    if (options.plan) {
      const plan = await planMigrations(client, migrations, target);
      const pending = plan.pending.map((m) => `${m.version}_${m.name}`);
      if (ctx.out.json) printJson({ ok: true, database: redactUrl(url), applied: plan.applied, pending });
      else if (pending.length === 0)
        printLine(`${style.ok('✔')} ${redactUrl(url)}: all ${plan.applied.length} migration(s) applied`);
      else for (const name of pending) printLine(`  ${style.warn('+')} would apply ${name}`);
      return pending.length === 0 ? 0 : 4;
    }
    await createUrlSchema(client, url);
    const applied = await applyMigrations(
      client,
      migrations,
      (m) => {
        if (!ctx.out.json) printLine(`${style.ok('✔')} applied ${m.version}_${m.name}`);
      },
      target,
    );
    if (ctx.out.json)
      printJson({ ok: true, database: redactUrl(url), applied: applied.map((m) => `${m.version}_${m.name}`) });
    else if (applied.length === 0)
      printLine(`${style.ok('✔')} ${redactUrl(url)}: up to date (${migrations.length} migration(s))`);
    return 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}
