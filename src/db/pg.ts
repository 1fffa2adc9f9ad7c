import { redactUrl } from '../sys/redact.js';
import type pg from 'pg';
import { AgentkeysError, UsageError } from '../errors.js';
import { messageOf } from '../sys/operator-file.js';

export interface PgConnectOptions {
  /** postgres:// URL; TLS via sslmode=require|verify-full and sslrootcert=FILE in the URL. */
  url: string;
  /** Server-side statement timeout; a hung query fails instead of blocking a writer forever. */
  statementTimeoutMs?: number;
  /**
   * The schema when the URL names none. AgentIdP's tables are in public; left to the server's
   * default ("$user", public), a role named agentkeys would find agentkeys' own schema first.
   */
  defaultSchema?: string;
}

export const DEFAULT_STATEMENT_TIMEOUT_MS = 30_000;

const TIMESTAMPTZ_OID = 1184;

/**
 * created_at is read as text and turned into ISO 8601 with its full precision, so a row read from
 * Postgres serialises exactly as it does in a JSON Lines file (a JS Date would drop microseconds).
 */
function typesOf(driver: typeof pg) {
  return {
    getTypeParser: ((oid: number, format?: 'text' | 'binary') => {
      if (oid === TIMESTAMPTZ_OID) return (text: string) => isoFromPg(text);
      return driver.types.getTypeParser(oid, format as 'text');
    }) as typeof pg.types.getTypeParser,
  };
}

export function isoFromPg(text: string): string {
  // With TimeZone=UTC the server writes "2026-11-22 19:28:13.771571+00" and drops trailing zeros
  // ("13.76", "13"). Pad to milliseconds (what JavaScript writes) or microseconds (what now()
  // gives), so a row read back serialises exactly as it was written.
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(?:\.(\d{1,6}))?\+00$/.exec(text);
  if (!m) return text.replace(' ', 'T');
  const fraction = m[3] ?? '';
  const padded = fraction.length <= 3 ? fraction.padEnd(3, '0') : fraction.padEnd(6, '0');
  return `${m[1]}T${m[2]}.${padded}Z`;
}

export function isPostgresUrl(value: string): boolean {
  return /^postgres(ql)?:\/\//.test(value);
}

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * `?schema=NAME` on a postgres URL puts agentkeys' tables in a schema of their own (the session's
 * search_path), so its audit_events can live beside AgentIdP's table of the same name in one
 * database. The parameter is agentkeys', so it is taken out of the URL the driver sees.
 */
export function splitSchema(url: string): { url: string; schema?: string } {
  const at = url.indexOf('?');
  if (at === -1) return { url };
  const params = new URLSearchParams(url.slice(at + 1));
  const schema = params.get('schema');
  if (schema === null) return { url };
  if (!SCHEMA_NAME.test(schema) || params.getAll('schema').length > 1)
    throw new UsageError({
      code: 'DATABASE_URL_INVALID',
      message: `schema "${schema}" in ${redactUrl(url)} is not one plain schema name (lower case, digits, _)`,
      hint: 'postgres://user@host/db?schema=agentkeys',
    });
  params.delete('schema');
  const rest = params.toString();
  return { url: url.slice(0, at) + (rest ? `?${rest}` : ''), schema };
}

/** Connects; the driver is loaded here, on first use, so a command on a file log never loads it. */
export async function connectPg(opts: PgConnectOptions): Promise<pg.Client> {
  const { default: driver } = await import('pg');
  const types = typesOf(driver);
  const split = splitSchema(opts.url);
  const { url } = split;
  const schema = split.schema ?? opts.defaultSchema;
  const client = new driver.Client({
    connectionString: url,
    application_name: 'agentkeys',
    statement_timeout: opts.statementTimeoutMs ?? DEFAULT_STATEMENT_TIMEOUT_MS,
    // Only the named schema: an unqualified audit_events never falls through to public's.
    options: `-c TimeZone=UTC${schema ? ` -c search_path=${schema}` : ''}`,
    types,
  });
  try {
    await client.connect();
  } catch (err) {
    throw new AgentkeysError({
      code: 'PG_CONNECT_FAILED',
      message: `cannot connect to ${redactUrl(opts.url)}: ${messageOf(err)}`,
      hint: 'check the URL, that the server is up, and sslmode (postgres://user@host:5432/db?sslmode=require)',
      cause: err,
    });
  }
  return client;
}

/** Never print a password that came in a URL: the one redaction lives in src/sys/redact.ts. */
export { redactUrl };

/** Maps the server's error codes that operators meet to named errors; anything else keeps its cause. */
export function pgError(err: unknown, what: string): AgentkeysError {
  const code = (err as { code?: string }).code;
  const message = messageOf(err);
  if (code === '42P01' || code === '42703') {
    return new UsageError({
      code: 'PG_NOT_MIGRATED',
      message: `${what}: the audit tables are missing or out of date (${message})`,
      hint: 'run: agentkeys db migrate --database-url "$DATABASE_URL" (the same database)',
      cause: err,
    });
  }
  if (code === '57014')
    return new AgentkeysError({
      code: 'PG_STATEMENT_TIMEOUT',
      message: `${what}: the statement timed out`,
      hint: 'raise AGENTKEYS_PG_STATEMENT_TIMEOUT_MS or check for locks held by another session',
      cause: err,
    });
  if (code === '23505')
    return new AgentkeysError({
      code: 'PG_CHAIN_CONFLICT',
      message: `${what}: another writer extended the chain at the same position (${message})`,
      hint: 'retry; every agentkeys writer takes the chain lock, so this means a writer that does not',
      cause: err,
    });
  if (err instanceof AgentkeysError) return err;
  return new AgentkeysError({ code: 'PG_QUERY_FAILED', message: `${what}: ${message}`, cause: err });
}
