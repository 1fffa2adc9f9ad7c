import type pg from 'pg';
import { canonicalJson, type JsonValue } from '../audit/canonical.js';
import { digestRow, serializeRow, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { connectPg, pgError, type PgConnectOptions } from '../db/pg.js';
import type { AuditSigner } from '../signing/signer.js';
import { linesToChunk, type LineChunk } from './file-chunks.js';
import type { AuditAppender, ChainHead } from './file-log.js';

// The transaction-level advisory lock every agentkeys writer takes before reading the head.
const CHAIN_LOCK_KEY = 0x61676b63; // 'agkc'
const COLUMNS = 'id::text AS id, actor_id, event_type, payload, signature, signer_kid, prev_hash, created_at';
const INSERT_BATCH = 500;

/**
 * Agent Manager's audit_events table as a chain store. Writers take an advisory lock and read the
 * head and insert in one transaction, so many processes on many hosts make one linear chain; the
 * unique indexes of migration 0002 turn any writer that skips the lock into an error, not a fork.
 */
export class PgAuditLog implements AuditAppender {
  private client: Promise<pg.Client> | undefined;

  constructor(private readonly conn: PgConnectOptions) {}

  /** Ends the connection a long-lived writer keeps between appends. */
  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await (await client).end().catch(() => undefined);
  }

  async append(build: (head: ChainHead) => Promise<AuditRow[]>, _anchorSigner: AuditSigner): Promise<ChainHead> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK_KEY]);
        const head = await readHead(client);
        const rows = await build(head);
        await insertRows(client, rows, head.events + 1);
        await client.query('COMMIT');
        return rows.length === 0 ? head : { prevHash: digestOf(rows[rows.length - 1]!), events: head.events + rows.length };
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw pgError(err, 'appending to audit_events');
      }
    });
  }

  async readHead(): Promise<ChainHead> {
    return this.withClient((client) => readHead(client).catch((err) => Promise.reject(pgError(err, 'reading the chain head'))));
  }

  async withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    this.client ??= connectPg(this.conn);
    let client: pg.Client;
    try {
      client = await this.client;
    } catch (err) {
      this.client = undefined;
      throw err;
    }
    try {
      return await fn(client);
    } catch (err) {
      // A failed connection is not reused; the next call opens a fresh one.
      await this.close();
      throw err;
    }
  }
}

async function readHead(client: pg.Client): Promise<ChainHead> {
  const unsequenced = await client.query('SELECT 1 FROM audit_events WHERE chain_seq IS NULL LIMIT 1');
  if (unsequenced.rowCount) {
    throw new UsageError({
      code: 'PG_UNSEQUENCED_ROWS',
      message: 'audit_events has rows without chain_seq: another writer is inserting without the chain lock',
      hint: 'stop that writer (Agent Manager\'s own signer), then number its rows: agentkeys verify-audit --log <url> shows where they sit',
    });
  }
  const last = await client.query<AuditRow & { chain_seq: string }>(`SELECT ${COLUMNS}, chain_seq FROM audit_events ORDER BY chain_seq DESC LIMIT 1`);
  const row = last.rows[0];
  if (!row) return { prevHash: null, events: 0 };
  return { prevHash: digestOf(row), events: Number(row.chain_seq) };
}

function digestOf(row: Pick<AuditRow, 'payload' | 'prev_hash'>): string {
  return digestRow(row.payload, row.prev_hash).digest.toString('hex');
}

/**
 * Inserts rows at chain positions from firstSeq, and checks that each payload reads back with the
 * same canonical bytes that were signed: what verification will recompute from the stored row.
 */
export async function insertRows(client: pg.Client, rows: readonly AuditRow[], firstSeq: number): Promise<void> {
  for (let start = 0; start < rows.length; start += INSERT_BATCH) {
    const batch = rows.slice(start, start + INSERT_BATCH);
    const params: unknown[] = [];
    const tuples = batch.map((r, i) => {
      assertStorable(r.payload, firstSeq + start + i);
      const base = params.length;
      params.push(r.id, r.actor_id, r.event_type, JSON.stringify(r.payload), r.signature, r.signer_kid, r.prev_hash, r.created_at, firstSeq + start + i);
      return `($${base + 1}::uuid, $${base + 2}, $${base + 3}, $${base + 4}::jsonb, $${base + 5}, $${base + 6}, $${base + 7}, $${base + 8}::timestamptz, $${base + 9})`;
    });
    const result = await client.query<{ id: string; payload: JsonValue }>(
      `INSERT INTO audit_events (id, actor_id, event_type, payload, signature, signer_kid, prev_hash, created_at, chain_seq) VALUES ${tuples.join(',')} RETURNING id::text AS id, payload`,
      params,
    );
    result.rows.forEach((stored, i) => {
      if (canonicalJson(stored.payload) !== canonicalJson(batch[i]!.payload)) {
        throw new AgentkeysError({ code: 'PAYLOAD_ROUNDTRIP_MISMATCH', message: `event ${batch[i]!.id}: the payload reads back from jsonb with different canonical bytes; nothing was written`, hint: 'report this payload: it is I-JSON that jsonb does not preserve' });
      }
    });
  }
}

/** jsonb refuses U+0000 in strings; refuse it first, with a name, instead of a server error mid-batch. */
function assertStorable(value: JsonValue, position: number): void {
  const walk = (v: JsonValue): void => {
    if (typeof v === 'string') {
      if (v.includes('\u0000')) throw new UsageError({ code: 'PAYLOAD_NOT_STORABLE', message: `event ${position}: a string contains U+0000, which PostgreSQL jsonb cannot store`, hint: 'remove or escape NUL characters before signing' });
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

export interface PgChainInfo {
  /** chain_seq exists (migrated); otherwise Agent Manager's order by created_at, id. */
  sequenced: boolean;
  /** ids of rows that share a prev_hash with an earlier row. */
  forkedIds: Set<string>;
}

/** Forks are found in SQL (GROUP BY prev_hash), so memory stays flat however many rows there are. */
export async function inspectChain(client: pg.Client): Promise<PgChainInfo> {
  const col = await client.query(`SELECT 1 FROM information_schema.columns WHERE table_name = 'audit_events' AND column_name = 'chain_seq' AND table_schema = current_schema()`);
  const sequenced = (col.rowCount ?? 0) > 0;
  const forks = await client.query<{ ids: string[] }>(
    `SELECT array_agg(id::text ORDER BY ${orderBy(sequenced)}) AS ids FROM audit_events GROUP BY prev_hash HAVING count(*) > 1`,
  );
  const forkedIds = new Set<string>();
  for (const { ids } of forks.rows) ids.slice(1).forEach((id) => forkedIds.add(id));
  return { sequenced, forkedIds };
}

function orderBy(sequenced: boolean): string {
  return sequenced ? 'chain_seq NULLS LAST, created_at, id' : 'created_at, id';
}

/**
 * Streams the table in chain order through a server-side cursor, as chunks of JSON Lines, so the
 * same verifier checks a database and a file and memory stays flat.
 */
export async function* streamChainChunks(client: pg.Client, sequenced: boolean, chunkBytes = 1 << 20, fetchRows = 2000): AsyncGenerator<LineChunk> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`DECLARE agentkeys_chain NO SCROLL CURSOR FOR SELECT ${COLUMNS} FROM audit_events ORDER BY ${orderBy(sequenced)}`);
    let lines: string[] = [];
    let bytes = 0;
    for (;;) {
      const { rows } = await client.query<AuditRow>(`FETCH ${fetchRows} FROM agentkeys_chain`);
      if (rows.length === 0) break;
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
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw pgError(err, 'reading audit_events');
  }
}

/** Reads rows in chain order, a page at a time (for export). */
export async function* streamChainRows(client: pg.Client, sequenced: boolean): AsyncGenerator<AuditRow> {
  await client.query('BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY');
  try {
    await client.query(`DECLARE agentkeys_rows NO SCROLL CURSOR FOR SELECT ${COLUMNS} FROM audit_events ORDER BY ${orderBy(sequenced)}`);
    for (;;) {
      const { rows } = await client.query<AuditRow>('FETCH 2000 FROM agentkeys_rows');
      if (rows.length === 0) break;
      yield* rows;
    }
    await client.query('COMMIT');
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw pgError(err, 'reading audit_events');
  }
}
