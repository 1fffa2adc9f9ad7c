import type pg from 'pg';
import { connectPg, isPostgresUrl, pgError } from '../db/pg.js';
import { UsageError } from '../errors.js';
import { inspectChain } from '../store/pg-log.js';
import type { AuditRow } from './record.js';
import { readRows } from './rows.js';

export interface AuditQuery {
  agent?: string;
  action?: string;
  since?: Date;
  until?: Date;
  limit: number;
}

export interface AuditQueryResult {
  events: AuditRow[];
  /** File lines that are not rows; they cannot match and are counted, not hidden. */
  skippedMalformed: number;
}

const RELATIVE = /^(\d+)(s|m|h|d|w)$/;
const UNIT_MS: Record<string, number> = { s: 1e3, m: 6e4, h: 36e5, d: 864e5, w: 6048e5 };

/** An ISO 8601 time, a date, or an age like 15m / 24h / 7d (before now). */
export function parseTimeBound(value: string, flag: string, now = new Date()): Date {
  const rel = RELATIVE.exec(value);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!]!);
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new UsageError({ code: 'TIME_INVALID', message: `${flag} "${value}" is not a time`, hint: `use 2026-11-01, 2026-11-01T12:00:00Z, or an age such as 24h or 7d` });
  }
  return new Date(t);
}

/** Newest first, on either store, with the same filters and the same result. */
export async function queryAudit(log: string, q: AuditQuery, statementTimeoutMs?: number): Promise<AuditQueryResult> {
  if (q.since && q.until && q.since > q.until) throw new UsageError({ code: 'TIME_RANGE_EMPTY', message: '--since is after --until', hint: 'swap them' });
  return isPostgresUrl(log) ? queryPg(log, q, statementTimeoutMs) : queryFile(log, q);
}

async function queryFile(log: string, q: AuditQuery): Promise<AuditQueryResult> {
  let skippedMalformed = 0;
  // Keep only the newest `limit` matches: memory is bounded by the limit, not the log.
  const newest: AuditRow[] = [];
  for await (const row of readRows(log, { skipMalformed: true, onMalformed: () => skippedMalformed++ })) {
    if (!matches(row, q)) continue;
    insertNewest(newest, row, q.limit);
  }
  return { events: newest, skippedMalformed };
}

function insertNewest(newest: AuditRow[], row: AuditRow, limit: number): void {
  // A later line with the same time is newer, as chain_seq breaks ties in Postgres.
  const key = timeKey(row.created_at);
  const at = newest.findIndex((r) => timeKey(r.created_at) <= key);
  if (at === -1) newest.push(row);
  else newest.splice(at, 0, row);
  if (newest.length > limit) newest.pop();
}

/** Microseconds since the epoch: Date.parse keeps only milliseconds, Postgres keeps microseconds. */
export function timeKey(iso: string): number {
  const ms = Date.parse(iso);
  const fraction = /\.(\d+)/.exec(iso)?.[1] ?? '';
  return ms * 1000 + Number(fraction.slice(3, 6).padEnd(3, '0'));
}

function matches(row: AuditRow, q: AuditQuery): boolean {
  if (q.agent !== undefined && row.actor_id !== q.agent) return false;
  if (q.action !== undefined && row.event_type !== q.action) return false;
  const at = Date.parse(row.created_at);
  if (q.since && !(at >= q.since.getTime())) return false;
  if (q.until && !(at < q.until.getTime())) return false;
  return true;
}

async function queryPg(url: string, q: AuditQuery, statementTimeoutMs?: number): Promise<AuditQueryResult> {
  const client = await connectPg({ url, ...(statementTimeoutMs ? { statementTimeoutMs } : {}) });
  try {
    return { events: await selectRows(client, q), skippedMalformed: 0 };
  } catch (err) {
    throw pgError(err, 'querying audit_events');
  } finally {
    await client.end().catch(() => undefined);
  }
}

async function selectRows(client: pg.Client, q: AuditQuery): Promise<AuditRow[]> {
  const { sequenced } = await inspectChain(client);
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
  const sql = `SELECT id::text AS id, actor_id, event_type, payload, signature, signer_kid, prev_hash, created_at FROM audit_events
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY created_at DESC${sequenced ? ', chain_seq DESC' : ''}, id DESC LIMIT $${params.length}`;
  return (await client.query<AuditRow>(sql, params)).rows;
}
