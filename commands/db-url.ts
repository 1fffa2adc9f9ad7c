import { connectPg, isPostgresUrl, redactUrl } from '../src/db/pg.js';
import type pg from 'pg';
import { UsageError } from '../src/errors.js';
import type { CommandContext } from './context.js';

/** The postgres:// URL a database command works on (--database-url, DATABASE_URL), or a usage error. */
export function requireDatabaseUrl(ctx: CommandContext, command: string, note: string): string {
  const url = ctx.config.databaseUrl;
  if (!url)
    throw new UsageError({
      code: 'DATABASE_URL_MISSING',
      message: 'no database given',
      hint: 'pass --database-url postgres://… or set DATABASE_URL',
    });
  if (!isPostgresUrl(url))
    throw new UsageError({
      code: 'DATABASE_URL_INVALID',
      message: `"${redactUrl(url)}" (${ctx.config.origins.databaseUrl}) is not a postgres:// URL`,
      hint: `${command} works on PostgreSQL: --database-url postgres://user@host:5432/db ${note}`,
    });
  return url;
}

/** AgentIdP's database: its tables in public unless the URL says ?schema=. */
export function connectAgentidp(ctx: CommandContext, url: string): Promise<pg.Client> {
  return connectPg({ url, statementTimeoutMs: ctx.config.pgStatementTimeoutMs, defaultSchema: 'public' });
}
