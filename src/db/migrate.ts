import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type pg from 'pg';
import { AgentkeysError, InternalError, UsageError } from '../errors.js';
import { pgError, splitSchema } from './pg.js';
import { packageRoot } from '../sys/fs.js';
import { messageOf } from '../sys/operator-file.js';

export interface Migration {
  version: string;
  name: string;
  sql: string;
  checksum: string;
}

export interface MigrationPlan {
  applied: string[];
  pending: Migration[];
}

/**
 * Where a set of migrations keeps its bookkeeping. agentkeys' own is agentkeys_schema_migrations,
 * never the schema_migrations a neighbour (AgentIdP) owns in the same database; `db migrate --dir
 * D --table T` applies any other append-only SQL directory with a table of its own.
 */
export interface MigrationTarget {
  table: string;
}

export const AGENTKEYS_TARGET: MigrationTarget = { table: 'agentkeys_schema_migrations' };
/** Where agentkeys kept its bookkeeping before issue 28; adopted once, never written again. */
const LEGACY_TABLE = 'schema_migrations';
const BOOKKEEPING_COLUMNS = ['applied_at', 'checksum', 'name', 'version'];

// agentkeys' own files are NNNN_name.sql; another directory (AgentIdP's 001_create_agents.sql)
// is numbered its own way: any number, then a name.
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;
const ANY_NUMBERED = /^(\d+)_([A-Za-z0-9_.-]+)\.sql$/;
/** A table name agentkeys writes into SQL as it is: a plain lower-case identifier. */
export const TABLE_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The migrations of a directory (default: the ones shipped with the package), numbered and append-only. */
export async function loadMigrations(dir = migrationsDir()): Promise<Migration[]> {
  const own = dir === migrationsDir();
  let entries: string[];
  try {
    entries = await fsp.readdir(dir);
  } catch (err) {
    throw new UsageError({
      code: 'MIGRATION_DIR_UNREADABLE',
      message: `cannot read the migrations folder ${dir}: ${messageOf(err)}`,
      hint: 'pass --dir with the folder of NNN_name.sql files',
    });
  }
  const files = entries.filter((f) => f.endsWith('.sql'));
  const out: Migration[] = [];
  for (const file of files) {
    const m = (own ? FILE_PATTERN : ANY_NUMBERED).exec(file);
    if (!m) {
      const detail = { message: `migration file ${file} is not ${own ? 'NNNN' : 'NNN'}_name.sql` };
      if (own) throw new InternalError({ code: 'MIGRATION_NAME_INVALID', ...detail });
      throw new UsageError({ code: 'MIGRATION_NAME_INVALID', ...detail, hint: `rename it, or move it out of ${dir}` });
    }
    const sql = await fsp.readFile(path.join(dir, file), 'utf8');
    out.push({ version: m[1]!, name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  // Numeric order: 2_x before 10_x, whatever the padding.
  return out.sort((a, b) => Number(a.version) - Number(b.version) || a.version.localeCompare(b.version));
}

function migrationsDir(): string {
  // Works from src/ (tests) and dist/src/ (the installed CLI): the SQL stays in src/db/migrations.
  return path.join(packageRoot(import.meta.url), 'src', 'db', 'migrations');
}

/** A --table name: a plain lower-case identifier, so it can be written into SQL as it is. */
export function migrationTarget(table: string | undefined): MigrationTarget {
  if (table === undefined) return AGENTKEYS_TARGET;
  if (!TABLE_NAME.test(table))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--table "${table}" is not a plain table name (lower case, digits, _)`,
      hint: '--table agentidp_schema_migrations',
    });
  return { table };
}

const createTable = (t: MigrationTarget) => `CREATE TABLE IF NOT EXISTS ${t.table} (
  version    text PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Compares what is applied with the files; a changed applied file is an error, never re-run. */
export async function planMigrations(
  client: pg.Client,
  migrations: Migration[],
  target: MigrationTarget = AGENTKEYS_TARGET,
): Promise<MigrationPlan> {
  if (target === AGENTKEYS_TARGET) await assertOwnAuditTable(client);
  const applied = await readApplied(client, target, migrations);
  for (const m of migrations) {
    const prior = applied.get(m.version);
    if (prior && prior !== m.checksum) {
      throw new UsageError({
        code: 'MIGRATION_CHECKSUM_MISMATCH',
        message:
          `migration ${m.version}_${m.name} was applied with checksum ${prior.slice(0, 12)}… ` +
          `but the file is ${m.checksum.slice(0, 12)}…`,
        hint: 'applied migrations are append-only: restore the original file and add a new numbered one',
      });
    }
  }
  return { applied: [...applied.keys()], pending: migrations.filter((m) => !applied.has(m.version)) };
}

/** The columns of a table (sorted), or undefined when it does not exist. */
export async function columnsOf(client: pg.Client, table: string): Promise<string[] | undefined> {
  const exists = await client.query<{ t: string | null }>('SELECT to_regclass($1)::text AS t', [table]);
  if (!exists.rows[0]?.t) return undefined;
  const cols = await client.query<{ c: string }>(
    'SELECT column_name AS c FROM information_schema.columns WHERE table_name = $1 AND table_schema = current_schema()',
    [table],
  );
  return cols.rows.map((r) => r.c).sort();
}

/** Agent Manager's columns, which agentkeys' chain is built on (migration 0001). */
const AGENT_MANAGER_COLUMNS = ['actor_id', 'event_type', 'payload'];

/**
 * AgentIdP names its audit table audit_events too, with columns of its own. agentkeys' migrations
 * would alter it (chain columns, indexes) and fail half-way: a table of that name without Agent
 * Manager's columns is refused before anything runs, with the way to keep both.
 */
async function assertOwnAuditTable(client: pg.Client): Promise<void> {
  const cols = await columnsOf(client, 'audit_events');
  if (!cols || AGENT_MANAGER_COLUMNS.every((c) => cols.includes(c))) return;
  throw new UsageError({
    code: 'AUDIT_TABLE_FOREIGN',
    message:
      `audit_events exists with columns ${cols.join(', ')}: another tool's audit table (AgentIdP's), ` +
      'which agentkeys never alters',
    hint: "keep agentkeys' chain in a schema of its own: add ?schema=agentkeys to the URL (db migrate creates it)",
  });
}

/** A table name of agentkeys' own beside another tool's: agentidp_applied for schema_migrations. */
const ownName = (table: string) => `${table === LEGACY_TABLE ? 'agentidp' : table}_applied`;

const isBookkeeping = (cols: string[]) => BOOKKEEPING_COLUMNS.every((c) => cols.includes(c));

async function readApplied(
  client: pg.Client,
  target: MigrationTarget,
  migrations: Migration[],
): Promise<Map<string, string>> {
  const cols = await columnsOf(client, target.table);
  if (cols === undefined) return target === AGENTKEYS_TARGET ? legacyApplied(client, migrations) : new Map();
  if (!isBookkeeping(cols))
    throw new UsageError({
      code: 'MIGRATION_TABLE_FOREIGN',
      message:
        `${target.table} exists with columns ${cols.join(', ')}: another tool's bookkeeping, ` +
        'which agentkeys neither reads nor writes',
      hint: `name a table of agentkeys' own: --table ${ownName(target.table)}`,
    });
  const rows = await client.query<{ version: string; checksum: string }>(
    `SELECT version, checksum FROM ${target.table}`,
  );
  return new Map(rows.rows.map((r) => [r.version, r.checksum]));
}

/**
 * Before issue 28 agentkeys kept its bookkeeping in schema_migrations, the name AgentIdP uses too.
 * Rows there count as applied only when they are agentkeys' (its columns, one of its files by
 * version and checksum); anything else in that table is a neighbour's and is never read as ours.
 */
async function legacyApplied(client: pg.Client, migrations: Migration[]): Promise<Map<string, string>> {
  const cols = await columnsOf(client, LEGACY_TABLE);
  if (!cols || !isBookkeeping(cols)) return new Map();
  const rows = await client.query<{ version: string; checksum: string }>(
    `SELECT version::text AS version, checksum::text AS checksum FROM ${LEGACY_TABLE}`,
  );
  const ours = new Map(migrations.map((m) => [m.version, m.checksum]));
  return new Map(rows.rows.filter((r) => ours.get(r.version) === r.checksum).map((r) => [r.version, r.checksum]));
}

/** ?schema=NAME: agentkeys' tables in a schema of their own, created on the first migration. */
export async function createUrlSchema(client: pg.Client, url: string): Promise<void> {
  const { schema } = splitSchema(url);
  if (schema) await client.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
}

/** One advisory-lock key per bookkeeping table: two sets of migrations never wait on each other. */
function lockKey(target: MigrationTarget): number {
  return createHash('sha256').update(`agentkeys-migrate:${target.table}`).digest().readInt32BE(0);
}

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock so two
 * concurrent runs apply each file once. Re-running is a no-op. agentkeys' own rows found in the
 * legacy schema_migrations are copied into agentkeys_schema_migrations first (that table untouched).
 */
export async function applyMigrations(
  client: pg.Client,
  migrations: Migration[],
  onApplied: (m: Migration) => void = () => undefined,
  target: MigrationTarget = AGENTKEYS_TARGET,
): Promise<Migration[]> {
  const key = lockKey(target);
  await client.query('SELECT pg_advisory_lock($1)', [key]);
  try {
    const fresh = (await columnsOf(client, target.table)) === undefined;
    const adopted = fresh && target === AGENTKEYS_TARGET ? await legacyApplied(client, migrations) : new Map();
    const { pending } = await planMigrations(client, migrations, target);
    await client.query(createTable(target));
    for (const m of migrations.filter((x) => adopted.has(x.version)))
      await client.query(`INSERT INTO ${target.table} (version, name, checksum) VALUES ($1, $2, $3)`, [
        m.version,
        m.name,
        m.checksum,
      ]);
    for (const m of pending) {
      await applyOne(client, m, target);
      onApplied(m);
    }
    return pending;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [key]);
  }
}

async function applyOne(client: pg.Client, m: Migration, target: MigrationTarget): Promise<void> {
  try {
    await client.query('BEGIN');
    await client.query(m.sql);
    await client.query(`INSERT INTO ${target.table} (version, name, checksum) VALUES ($1, $2, $3)`, [
      m.version,
      m.name,
      m.checksum,
    ]);
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    const inner = pgError(err, `migration ${m.version}_${m.name}`);
    throw new AgentkeysError({
      code: 'MIGRATION_FAILED',
      message: `${inner.message}; nothing of this migration was applied`,
      hint:
        target === AGENTKEYS_TARGET && m.version === '0002'
          ? 'a unique violation here means the existing chain is forked: inspect it ' +
            'with agentkeys verify-audit --log "$DATABASE_URL"'
          : 'fix the cause and re-run agentkeys db migrate',
      cause: err,
    });
  }
}
