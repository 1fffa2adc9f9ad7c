import { createHash } from 'node:crypto';
import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import type pg from 'pg';
import { AgentkeysError, InternalError, UsageError } from '../errors.js';
import { pgError } from './pg.js';
import { packageRoot } from '../sys/fs.js';

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

// A constant key for the session-level advisory lock that serialises concurrent `db migrate` runs.
const MIGRATE_LOCK_KEY = 0x61676b6d; // 'agkm'
const FILE_PATTERN = /^(\d{4})_([a-z0-9_]+)\.sql$/;

/** The migrations shipped with the package, numbered and append-only. */
export async function loadMigrations(dir = migrationsDir()): Promise<Migration[]> {
  const files = (await fsp.readdir(dir)).filter((f) => f.endsWith('.sql')).sort();
  const out: Migration[] = [];
  for (const file of files) {
    const m = FILE_PATTERN.exec(file);
    if (!m)
      throw new InternalError({
        code: 'MIGRATION_NAME_INVALID',
        message: `migration file ${file} is not NNNN_name.sql`,
      });
    const sql = await fsp.readFile(path.join(dir, file), 'utf8');
    out.push({ version: m[1]!, name: m[2]!, sql, checksum: createHash('sha256').update(sql).digest('hex') });
  }
  return out;
}

function migrationsDir(): string {
  // Works from src/ (tests) and dist/src/ (the installed CLI): the SQL stays in src/db/migrations.
  return path.join(packageRoot(import.meta.url), 'src', 'db', 'migrations');
}

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version    text PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

/** Compares what is applied with what ships; a changed applied file is an error, never re-run. */
export async function planMigrations(client: pg.Client, migrations: Migration[]): Promise<MigrationPlan> {
  const applied = await readApplied(client);
  for (const m of migrations) {
    const prior = applied.get(m.version);
    if (prior && prior !== m.checksum) {
      throw new UsageError({
        code: 'MIGRATION_CHECKSUM_MISMATCH',
        message:
          `migration ${m.version}_${m.name} was applied with checksum ${prior.slice(0, 12)}… ` +
          `but the shipped file is ${m.checksum.slice(0, 12)}…`,
        hint: 'applied migrations are append-only: restore the original file and add a new numbered one',
      });
    }
  }
  return { applied: [...applied.keys()], pending: migrations.filter((m) => !applied.has(m.version)) };
}

async function readApplied(client: pg.Client): Promise<Map<string, string>> {
  const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
  if (!exists.rows[0]?.t) return new Map();
  const rows = await client.query<{ version: string; checksum: string }>(
    'SELECT version, checksum FROM schema_migrations',
  );
  return new Map(rows.rows.map((r) => [r.version, r.checksum]));
}

/**
 * Applies pending migrations, each in its own transaction, under a session advisory lock so two
 * concurrent runs apply each file once. Re-running is a no-op.
 */
export async function applyMigrations(
  client: pg.Client,
  migrations: Migration[],
  onApplied: (m: Migration) => void = () => undefined,
): Promise<Migration[]> {
  await client.query('SELECT pg_advisory_lock($1)', [MIGRATE_LOCK_KEY]);
  try {
    await client.query(CREATE_TABLE);
    const { pending } = await planMigrations(client, migrations);
    for (const m of pending) {
      await applyOne(client, m);
      onApplied(m);
    }
    return pending;
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATE_LOCK_KEY]);
  }
}

async function applyOne(client: pg.Client, m: Migration): Promise<void> {
  try {
    await client.query('BEGIN');
    await client.query(m.sql);
    await client.query('INSERT INTO schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
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
        m.version === '0002'
          ? 'a unique violation here means the existing chain is forked: inspect it ' +
            'with agentkeys verify-audit --log "$DATABASE_URL"'
          : 'fix the cause and re-run agentkeys db migrate',
      cause: err,
    });
  }
}
