import { UsageError } from '../errors.js';
import type { AuditRow } from './record.js';

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

/** A duration such as 500ms, 10s, 5m, 1h (--checkpoint-interval). */
export function parseDurationMs(value: string, flag: string): number {
  const ms = /^(\d+)ms$/.exec(value);
  if (ms && Number(ms[1]) > 0) return Number(ms[1]);
  const rel = RELATIVE.exec(value);
  if (rel && Number(rel[1]) > 0) return Number(rel[1]) * UNIT_MS[rel[2]!]!;
  throw new UsageError({
    code: 'FLAG_INVALID',
    message: `${flag} "${value}" is not a duration`,
    hint: 'use 500ms, 10s, 5m or 1h',
  });
}

/** An ISO 8601 time, a date, or an age like 15m / 24h / 7d (before now). */
export function parseTimeBound(value: string, flag: string, now = new Date()): Date {
  const rel = RELATIVE.exec(value);
  if (rel) return new Date(now.getTime() - Number(rel[1]) * UNIT_MS[rel[2]!]!);
  const t = Date.parse(value);
  if (Number.isNaN(t) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new UsageError({
      code: 'TIME_INVALID',
      message: `${flag} "${value}" is not a time`,
      hint: `use 2026-11-01, 2026-11-01T12:00:00Z, or an age such as 24h or 7d`,
    });
  }
  return new Date(t);
}

export function assertQueryRange(q: AuditQuery): void {
  if (q.since && q.until && q.since > q.until)
    throw new UsageError({ code: 'TIME_RANGE_EMPTY', message: '--since is after --until', hint: 'swap them' });
}

/** Keeps only the newest `limit` matches: memory is bounded by the limit, not the log. */
export function insertNewest(newest: AuditRow[], row: AuditRow, limit: number): void {
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

export function matchesQuery(row: AuditRow, q: AuditQuery): boolean {
  if (q.agent !== undefined && row.actor_id !== q.agent) return false;
  if (q.action !== undefined && row.event_type !== q.action) return false;
  const at = Date.parse(row.created_at);
  if (q.since && !(at >= q.since.getTime())) return false;
  if (q.until && !(at < q.until.getTime())) return false;
  return true;
}
