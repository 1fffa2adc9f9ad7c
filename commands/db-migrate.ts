import { applyMigrations, loadMigrations, planMigrations } from '../src/db/migrate.js';
import { connectPg, isPostgresUrl, redactUrl } from '../src/db/pg.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { createContext, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';

export interface DbMigrateOptions extends GlobalOptions {
  databaseUrl?: string;
  plan?: boolean;
}

export async function runDbMigrate(options: DbMigrateOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const url = ctx.config.databaseUrl;
  if (!url)
    throw new UsageError({
      code: 'DATABASE_URL_MISSING',
      message: 'no database given',
      hint: 'pass --database-url postgres://… or set DATABASE_URL',
    });
  if (!isPostgresUrl(url)) {
    throw new UsageError({
      code: 'DATABASE_URL_INVALID',
      message: `"${redactUrl(url)}" (${ctx.config.origins.databaseUrl}) is not a postgres:// URL`,
      hint:
        'db migrate works on PostgreSQL: --database-url postgres://user@host:5432/db ' +
        '(a JSON Lines log needs no migration)',
    });
  }
  const migrations = await loadMigrations();
  const client = await connectPg({ url, statementTimeoutMs: ctx.config.pgStatementTimeoutMs });
  try {
    if (options.plan) {
      const plan = await planMigrations(client, migrations);
      const pending = plan.pending.map((m) => `${m.version}_${m.name}`);
      if (ctx.out.json) printJson({ ok: true, database: redactUrl(url), applied: plan.applied, pending });
      else if (pending.length === 0)
        printLine(`${style.ok('✔')} ${redactUrl(url)}: all ${plan.applied.length} migration(s) applied`);
      else for (const name of pending) printLine(`  ${style.warn('+')} would apply ${name}`);
      return pending.length === 0 ? 0 : 4;
    }
    const applied = await applyMigrations(client, migrations, (m) => {
      if (!ctx.out.json) printLine(`${style.ok('✔')} applied ${m.version}_${m.name}`);
    });
    if (ctx.out.json)
      printJson({ ok: true, database: redactUrl(url), applied: applied.map((m) => `${m.version}_${m.name}`) });
    else if (applied.length === 0)
      printLine(`${style.ok('✔')} ${redactUrl(url)}: up to date (${migrations.length} migration(s))`);
    return 0;
  } finally {
    await client.end().catch(() => undefined);
  }
}
