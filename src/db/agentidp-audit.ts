// AgentIdP's own audit table (token.issued, agent.suspended, credential.rotated, …), read with the
// filters of `audit query`. AgentIdP names it audit_events too, with columns of its own; which
// columns hold the agent, the action and the time is read from the table, never assumed.
import type pg from 'pg';
import { assertQueryRange, type AuditQuery } from '../audit/query.js';
import { UsageError } from '../errors.js';
import { columnsOf, TABLE_NAME } from './migrate.js';
import { pgError } from './pg.js';

/** One AgentIdP audit event, in the field names agentkeys' own events use. */
export interface AgentidpEvent {
  id: string;
  actor_id: string | null;
  event_type: string;
  created_at: string;
  outcome?: string | null;
  payload: unknown;
}

/** The columns of an AgentIdP-like event table, by the names such schemas use (first found wins). */
export const TIME_COLUMNS = ['timestamp', 'created_at', 'occurred_at'];
const ID_COLUMNS = ['event_id', 'id'];
const AGENT_COLUMNS = ['agent_id', 'actor_id'];
const ACTION_COLUMNS = ['action', 'event_type'];
const DETAIL_COLUMNS = ['metadata', 'details', 'payload'];

export interface EventColumns {
  id: string;
  agent: string;
  action: string;
  time: string;
  outcome?: string;
  detail?: string;
}

/** A --table name: a plain identifier, so it can be written into SQL as it is. */
export function assertTableName(table: string): void {
  if (!TABLE_NAME.test(table))
    throw new UsageError({
      code: 'FLAG_INVALID',
      message: `--table "${table}" is not a plain table name`,
      hint: '--table audit_events',
    });
}

/** An agentkeys chain (prev_hash and signature beside the events) is not AgentIdP's table. */
export const isAgentkeysChain = (cols: string[]) => cols.includes('prev_hash') && cols.includes('signature');

export async function agentidpColumns(client: pg.Client, table: string): Promise<EventColumns> {
  assertTableName(table);
  const cols = await columnsOf(client, table);
  if (!cols)
    throw new UsageError({
      code: 'AGENTIDP_TABLE_UNSUITABLE',
      message: `there is no table ${table} in this database`,
      hint: "point --database-url at AgentIdP's database (its DATABASE_URL), --table audit_events",
    });
  if (isAgentkeysChain(cols))
    throw new UsageError({
      code: 'AUDIT_SOURCE_MISMATCH',
      message: `${table} is an agentkeys audit chain, not AgentIdP's audit table`,
      hint: 'read it without --source agentidp: agentkeys audit query --log postgres://…',
    });
  const pick = (names: string[]) => names.find((n) => cols.includes(n));
  const [id, agent, action, time] = [pick(ID_COLUMNS), pick(AGENT_COLUMNS), pick(ACTION_COLUMNS), pick(TIME_COLUMNS)];
  if (!id || !agent || !action || !time)
    throw new UsageError({
      code: 'AGENTIDP_TABLE_UNSUITABLE',
      message:
        `${table} (columns ${cols.join(', ')}) lacks an event id, agent, action or time column ` +
        `(${[ID_COLUMNS, AGENT_COLUMNS, ACTION_COLUMNS, TIME_COLUMNS].map((c) => c.join('|')).join('; ')})`,
      hint: "name AgentIdP's audit table: --table audit_events",
    });
  const detail = pick(DETAIL_COLUMNS);
  return {
    id,
    agent,
    action,
    time,
    ...(cols.includes('outcome') ? { outcome: 'outcome' } : {}),
    ...(detail ? { detail } : {}),
  };
}

/** Newest first, at most q.limit rows; the filters are SQL parameters, never spliced in. */
export async function queryAgentidpAudit(client: pg.Client, table: string, q: AuditQuery): Promise<AgentidpEvent[]> {
  assertQueryRange(q);
  const c = await agentidpColumns(client, table);
  const where: string[] = [];
  const params: unknown[] = [];
  const add = (column: string, op: string, value: unknown) => {
    params.push(value);
    where.push(`"${column}"${op}$${params.length}`);
  };
  if (q.agent !== undefined) add(c.agent, '::text = ', q.agent);
  if (q.action !== undefined) add(c.action, '::text = ', q.action);
  if (q.since) add(c.time, '::timestamptz >= ', q.since.toISOString());
  if (q.until) add(c.time, '::timestamptz < ', q.until.toISOString());
  params.push(q.limit);
  // A timestamp without time zone is read as UTC (the session's TimeZone); ids and agents as text.
  const select = [
    `"${c.id}"::text AS id`,
    `"${c.agent}"::text AS actor_id`,
    `"${c.action}"::text AS event_type`,
    `"${c.time}"::timestamptz AS created_at`,
    c.outcome ? `"${c.outcome}"::text AS outcome` : null,
    c.detail ? `to_jsonb("${c.detail}") AS payload` : `'{}'::jsonb AS payload`,
  ].filter((x) => x !== null);
  const sql =
    `SELECT ${select.join(', ')} FROM ${table}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ` +
    `ORDER BY "${c.time}" DESC, "${c.id}" DESC LIMIT $${params.length}`;
  try {
    return (await client.query<AgentidpEvent>(sql, params)).rows;
  } catch (err) {
    throw pgError(err, `querying ${table}`);
  }
}
