// The SQL of the chain on Agent Manager's audit_events table (migrations live in src/db).
import type pg from 'pg';
import { canonicalJson, type JsonValue } from '../audit/canonical.js';
import type { ChainHead, CheckpointRecord, TreeState } from '../audit/chain.js';
import { linesToChunk, type LineChunk } from '../audit/line-chunks.js';
import type { AuditQuery } from '../audit/query.js';
import { digestRow, serializeRow, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { pgError } from '../db/pg.js';

// The transaction-level advisory lock every agentkeys writer takes before reading the head.
export const CHAIN_LOCK_KEY = 0x61676b63; // 'agkc'
const COLUMNS = 'id::text AS id, actor_id, event_type, payload, signature, signer_kid, prev_hash, created_at';
const INSERT_BATCH = 500;

export async function readHead(client: pg.Client): Promise<ChainHead> {
  const unsequenced = await client.query('SELECT 1 FROM audit_events WHERE chain_seq IS NULL LIMIT 1');
  if (unsequenced.rowCount) {
    throw new UsageError({
      code: 'PG_UNSEQUENCED_ROWS',
      message: 'audit_events has rows without chain_seq: another writer is inserting without the chain lock',
      hint:
        "stop that writer (Agent Manager's own signer), then number its rows: " +
        'agentkeys verify-audit --log "$DATABASE_URL" shows where they sit',
    });
  }
  const last = await client.query<AuditRow & { chain_seq: string }>(
    `SELECT ${COLUMNS}, chain_seq FROM audit_events ORDER BY chain_seq DESC LIMIT 1`,
  );
  const row = last.rows[0];
  if (!row) return { prevHash: null, events: 0 };
  return { prevHash: digestOf(row), events: Number(row.chain_seq) };
}

export function digestOf(row: Pick<AuditRow, 'payload' | 'prev_hash'>): string {
  return digestRow(row.payload, row.prev_hash).digest.toString('hex');
}

/**
 * Inserts rows at chain positions from firstSeq, and checks that each payload reads back with the
 * same canonical bytes that were signed: what verification will recompute from the stored row.
 */
export async function insertRows(
  client: pg.Client,
  rows: readonly AuditRow[],
  firstSeq: number,
  withDigest = false,
): Promise<void> {
  for (let start = 0; start < rows.length; start += INSERT_BATCH) {
    const batch = rows.slice(start, start + INSERT_BATCH);
    const params: unknown[] = [];
    const tuples = batch.map((r, i) => {
      assertStorable(r.payload, firstSeq + start + i);
      const base = params.length;
      params.push(
        r.id,
        r.actor_id,
        r.event_type,
        JSON.stringify(r.payload),
        r.signature,
        r.signer_kid,
        r.prev_hash,
        r.created_at,
        firstSeq + start + i,
        ...(withDigest ? [digestOf(r)] : []),
      );
      return (
        `($${base + 1}::uuid, $${base + 2}, $${base + 3}, $${base + 4}::jsonb, ` +
        `$${base + 5}, $${base + 6}, $${base + 7}, $${base + 8}::timestamptz, $${base + 9}` +
        `${withDigest ? `, $${base + 10}` : ''})`
      );
    });
    const result = await client.query<{ id: string; payload: JsonValue }>(
      `INSERT INTO audit_events (id, actor_id, event_type, payload, signature, ` +
        `signer_kid, prev_hash, created_at, chain_seq${withDigest ? ', chain_digest' : ''}) ` +
        `VALUES ${tuples.join(',')} ` +
        `RETURNING id::text AS id, payload`,
      params,
    );
    result.rows.forEach((stored, i) => {
      if (canonicalJson(stored.payload) !== canonicalJson(batch[i]!.payload)) {
        throw new AgentkeysError({
          code: 'PAYLOAD_ROUNDTRIP_MISMATCH',
          message:
            `event ${batch[i]!.id}: the payload reads back from jsonb with different ` +
            `canonical bytes; nothing was written`,
          hint: 'report this payload: it is I-JSON that jsonb does not preserve',
        });
      }
    });
  }
}

/** jsonb refuses U+0000 in strings; refuse it first, with a name, instead of a server error mid-batch. */
function assertStorable(value: JsonValue, position: number): void {
  const walk = (v: JsonValue): void => {
    if (typeof v === 'string') {
      if (v.includes('\u0000'))
        throw new UsageError({
          code: 'PAYLOAD_NOT_STORABLE',
          message: `event ${position}: a string contains U+0000, which PostgreSQL jsonb cannot store`,
          hint: 'remove or escape NUL characters before signing',
        });
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) {
        walk(k);
        walk(item);
      }
    }
  };
  walk(value);
}

/** chain_seq exists (migrated); otherwise the chain is in Agent Manager's order by created_at, id. */
export async function isSequenced(client: pg.Client): Promise<boolean> {
  const col = await client.query(
    `SELECT 1 FROM information_schema.columns WHERE table_name = 'audit_events' ` +
      `AND column_name = 'chain_seq' AND table_schema = current_schema()`,
  );
  return (col.rowCount ?? 0) > 0;
}

/**
 * Ids of rows that share a prev_hash with an earlier row. Found in SQL (GROUP BY prev_hash), so
 * memory stays flat however many rows there are.
 */
export async function findForks(client: pg.Client, sequenced: boolean): Promise<Set<string>> {
  const forks = await client.query<{ ids: string[] }>(
    `SELECT array_agg(id::text ORDER BY ${orderBy(sequenced)}) AS ids FROM ` +
      `audit_events GROUP BY prev_hash HAVING count(*) > 1`,
  );
  const forkedIds = new Set<string>();
  for (const { ids } of forks.rows) ids.slice(1).forEach((id) => forkedIds.add(id));
  return forkedIds;
}

function orderBy(sequenced: boolean): string {
  return sequenced ? 'chain_seq NULLS LAST, created_at, id' : 'created_at, id';
}

/**
 * Reads the table in chain order through a server-side cursor, a page at a time, in one
 * repeatable-read snapshot, so memory stays flat however many rows there are.
 */
export function streamChainRows(client: pg.Client, sequenced: boolean, fetchRows = 2000): AsyncGenerator<AuditRow[]> {
  return streamCursor<AuditRow>(
    client,
    `SELECT ${COLUMNS} FROM audit_events ORDER BY ${orderBy(sequenced)}`,
    fetchRows,
  );
}

/**
 * A query read in pages through a cursor, in one read-only snapshot. Also when the reader stops
 * early, the snapshot ends: the connection is reused, its snapshot must not be.
 */
async function* streamCursor<T extends pg.QueryResultRow>(
  client: pg.Client,
  query: string,
  fetchRows: number,
): AsyncGenerator<T[]> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  let done = false;
  try {
    await client.query(`DECLARE agentkeys_cursor NO SCROLL CURSOR FOR ${query}`);
    for (;;) {
      const { rows } = await client.query<T>(`FETCH ${fetchRows} FROM agentkeys_cursor`);
      if (rows.length === 0) break;
      yield rows;
    }
    await client.query('COMMIT');
    done = true;
  } catch (err) {
    throw pgError(err, 'reading audit_events');
  } finally {
    if (!done) await client.query('ROLLBACK').catch(() => undefined);
  }
}

/** The same rows as chunks of JSON Lines, so one verifier checks a database and a file. */
export async function* streamChainChunks(
  pages: AsyncIterable<AuditRow[]>,
  chunkBytes = 1 << 20,
): AsyncGenerator<LineChunk> {
  let lines: string[] = [];
  let bytes = 0;
  for await (const rows of pages) {
    for (const row of rows) {
      const line = serializeRow(row);
      lines.push(line);
      bytes += line.length + 1;
    }
    if (bytes >= chunkBytes) {
      yield linesToChunk(lines);
      lines = [];
      bytes = 0;
    }
  }
  if (lines.length > 0) yield linesToChunk(lines);
}

export async function countRows(client: pg.Client): Promise<number> {
  return Number((await client.query<{ n: string }>('SELECT count(*) AS n FROM audit_events')).rows[0]!.n);
}

export async function assertEmpty(client: pg.Client): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM audit_events LIMIT 1');
  if (rowCount)
    throw new UsageError({
      code: 'EXPORT_DEST_NOT_EMPTY',
      message: 'the destination audit_events table is not empty',
      hint: 'export into an empty database; agentkeys never merges two chains',
    });
}

/** Newest first; created_at then chain_seq then id, as the file store orders equal times. */
export async function selectRows(client: pg.Client, sequenced: boolean, q: AuditQuery): Promise<AuditRow[]> {
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (sql: string, value: unknown) => {
    params.push(value);
    where.push(sql.replace('?', `$${params.length}`));
  };
  if (q.agent !== undefined) add('actor_id = ?', q.agent);
  if (q.action !== undefined) add('event_type = ?', q.action);
  if (q.since) add('created_at >= ?', q.since.toISOString());
  if (q.until) add('created_at < ?', q.until.toISOString());
  params.push(q.limit);
  const sql = `SELECT ${COLUMNS} FROM audit_events
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY created_at DESC${sequenced ? ', chain_seq DESC' : ''}, id DESC LIMIT $${params.length}`;
  return (await client.query<AuditRow>(sql, params)).rows;
}

// Checkpoint mode (migration 0004). A database not yet migrated has no checkpoints: 42P01.
const UNDEFINED_TABLE = '42P01';
const noTable = (err: unknown) => (err as { code?: string }).code === UNDEFINED_TABLE;

export async function readCheckpointNotes(client: pg.Client): Promise<string[]> {
  try {
    const { rows } = await client.query<{ note: string }>(
      'SELECT note FROM agentkeys_audit_checkpoints ORDER BY created_at, tree_size',
    );
    return rows.map((r) => r.note);
  } catch (err) {
    if (noTable(err)) return [];
    throw err;
  }
}

/** Every checkpoint record, largest tree first, with its hint (prior_range when migration 0006 is in). */
export async function readCheckpointRecords(client: pg.Client, newest?: number): Promise<CheckpointRecord[]> {
  try {
    const prior = (await hasPriorRange(client)) ? 'prior_range' : 'NULL';
    const { rows } = await client.query<{
      tree_size: string;
      chain_position: string;
      tree_range: TreeState['range'];
      prior_range: TreeState['range'] | null;
      note: string;
      created_at: Date | string; // a string where the connection parses no timestamps
    }>(
      `SELECT tree_size, chain_position, tree_range, ${prior} AS prior_range, note, created_at ` +
        `FROM agentkeys_audit_checkpoints ORDER BY tree_size DESC${newest === undefined ? '' : ' LIMIT $1'}`,
      newest === undefined ? [] : [newest],
    );
    return rows.map((r) => ({
      note: r.note,
      state: {
        size: Number(r.tree_size),
        position: Number(r.chain_position),
        range: r.tree_range,
        ...(r.prior_range ? { prior: r.prior_range } : {}),
        signedAt: new Date(r.created_at),
      },
    }));
  } catch (err) {
    if (noTable(err)) return [];
    throw err;
  }
}

export async function insertCheckpoint(client: pg.Client, state: TreeState, note: string): Promise<void> {
  const withPrior = await hasPriorRange(client);
  const columns = `tree_size, chain_position, tree_range, note${withPrior ? ', prior_range' : ''}`;
  await client.query(
    `INSERT INTO agentkeys_audit_checkpoints (${columns}) VALUES ($1, $2, $3, $4${withPrior ? ', $5' : ''})`,
    [
      state.size,
      state.position,
      JSON.stringify(state.range),
      note,
      ...(withPrior ? [JSON.stringify(state.prior ?? null)] : []),
    ],
  );
}

/** The event at a chain_seq. */
export async function rowAtSeq(client: pg.Client, seq: number): Promise<AuditRow | undefined> {
  if (!Number.isSafeInteger(seq) || seq < 1) return undefined;
  const { rows } = await client.query<AuditRow>(`SELECT ${COLUMNS} FROM audit_events WHERE chain_seq = $1`, [seq]);
  return rows[0];
}

/** The rows after a chain_seq, in chain order, each with its chain_seq as the position after it. */
export async function* streamRowsAfter(
  client: pg.Client,
  afterSeq: number,
  pageRows = 2000,
): AsyncGenerator<{ row: AuditRow; position: number }> {
  if (!Number.isSafeInteger(afterSeq)) throw new Error(`chain position ${afterSeq} is not an integer`);
  // Pages by chain_seq, one round trip each (a writer mostly reads a handful of rows): writers
  // commit in chain_seq order under the chain lock, so a page never skips a row still to commit.
  let after = afterSeq;
  for (;;) {
    const { rows } = await client.query<AuditRow & { chain_seq: string }>(
      `SELECT ${COLUMNS}, chain_seq FROM audit_events WHERE chain_seq > $1 ORDER BY chain_seq LIMIT $2`,
      [after, pageRows],
    );
    for (const { chain_seq, ...row } of rows) {
      after = Number(chain_seq);
      yield { row, position: after };
    }
    if (rows.length < pageRows) return;
  }
}

/** Migration 0005's chain_digest column: rows agentkeys inserts carry their digest when it exists. */
export function hasChainDigest(client: pg.Client): Promise<boolean> {
  return hasColumn(client, 'audit_events', 'chain_digest');
}

// Migration 0006's prior_range, asked once per connection (a writer asks on every call otherwise).
const priorRangeOf = new WeakMap<pg.Client, boolean>();

async function hasPriorRange(client: pg.Client): Promise<boolean> {
  let known = priorRangeOf.get(client);
  if (known === undefined) {
    known = await hasColumn(client, 'agentkeys_audit_checkpoints', 'prior_range');
    priorRangeOf.set(client, known);
  }
  return known;
}

async function hasColumn(client: pg.Client, table: string, column: string): Promise<boolean> {
  const { rowCount } = await client.query(
    'SELECT 1 FROM information_schema.columns WHERE table_name = $1 AND column_name = $2 ' +
      'AND table_schema = current_schema()',
    [table, column],
  );
  return (rowCount ?? 0) > 0;
}

export interface UnsignedEventText {
  id: string;
  actor_id: string | null;
  event_type: string;
  /** canonicalJson(payload): what the database hashes, and inserts as jsonb. */
  canonical: string;
  created_at: string;
}

// AK001: the head has no chain_digest (written by another tool); 42883: the function is not
// there (migration 0005 not applied). Either way the caller links on its side.
const FALLBACK_CODES = new Set(['AK001', '42883']);

/**
 * Checkpoint mode's append as one statement (migration 0005): lock, head, link, insert. Returns
 * the digest the first event links to and the new head, or 'fallback' when the database cannot.
 */
export async function appendUnsignedInOneTrip(
  client: pg.Client,
  events: readonly UnsignedEventText[],
): Promise<{ startDigest: string | null; endSeq: number; endDigest: string } | 'fallback'> {
  try {
    const { rows } = await client.query<{ start_digest: string | null; end_seq: string; end_digest: string }>(
      'SELECT start_digest, end_seq, end_digest FROM agentkeys_append_unsigned($1, $2::jsonb)',
      [CHAIN_LOCK_KEY, JSON.stringify(events)],
    );
    const r = rows[0]!;
    return { startDigest: r.start_digest, endSeq: Number(r.end_seq), endDigest: r.end_digest };
  } catch (err) {
    if (FALLBACK_CODES.has((err as { code?: string }).code ?? '')) return 'fallback';
    throw err;
  }
}
