// AgentIdP's runbook steps that operators did by hand in psql: suspend an agent, revoke its
// credentials. AgentIdP's exact columns are not pinned anywhere agentkeys can read, so each step
// detects them (as audit query and prune do) and refuses a table it does not understand.
import type pg from 'pg';
import { AgentkeysError, UsageError } from '../errors.js';
import { messageOf } from '../sys/operator-file.js';
import { columnsOf } from './migrate.js';

export type RunbookAction = 'suspend-agent' | 'revoke-credentials';

/** What one step changes: computed and applied inside the caller's transaction, rows locked. */
export interface RunbookChange {
  action: RunbookAction;
  agentId: string;
  table: string;
  /** Rows this step changes (0: already done). */
  rows: number;
  /** What the rows were before, for the audit event (status values, or how many were live). */
  before: Record<string, number>;
  /** The SQL of the change, run by applyChange in the same transaction. */
  sql: string;
  params: unknown[];
}

const AGENT_TABLES = ['agents'];
const AGENT_ID_COLUMNS = ['id', 'agent_id'];
const CREDENTIAL_TABLES = ['credentials', 'agent_credentials'];
const CREDENTIAL_AGENT_COLUMNS = ['agent_id', 'client_id'];

const AGENT_ID = /^[\x21-\x7e]{1,200}$/;

export function assertAgentId(id: string): void {
  if (!AGENT_ID.test(id))
    throw new UsageError({
      code: 'AGENT_ID_INVALID',
      message: `agent id "${id.slice(0, 40)}" is not 1 to 200 printable characters without spaces`,
      hint: "the agent's id as AgentIdP shows it: agentkeys audit query --source agentidp",
    });
}

async function findTable(client: pg.Client, names: string[], what: string): Promise<[string, string[]]> {
  for (const name of names) {
    const cols = await columnsOf(client, name);
    if (cols) return [name, cols];
  }
  throw new UsageError({
    code: 'AGENTIDP_TABLE_UNSUITABLE',
    message: `no ${what} table (${names.join(', ')}) in this database`,
    hint: "point --database-url at AgentIdP's database (its DATABASE_URL; ?schema= if not public)",
  });
}

function column(table: string, cols: string[], names: string[], what: string): string {
  const found = names.find((n) => cols.includes(n));
  if (found) return found;
  throw new UsageError({
    code: 'AGENTIDP_TABLE_UNSUITABLE',
    message: `${table} (columns ${cols.join(', ')}) has no ${what} column (${names.join(' or ')})`,
    hint: 'agentkeys changes only tables it understands; do this step by hand and record it with agentkeys sign',
  });
}

const notFound = (id: string) =>
  new UsageError({
    code: 'AGENT_NOT_FOUND',
    message: `AgentIdP has no agent ${id}`,
    hint: 'list agents: agentkeys audit query --source agentidp --event-type agent.created',
  });

/** status → 'suspended' (and suspended_at, updated_at when the table has them), the row locked. */
export async function planSuspend(client: pg.Client, agentId: string): Promise<RunbookChange> {
  assertAgentId(agentId);
  const [table, cols] = await findTable(client, AGENT_TABLES, 'agents');
  const id = column(table, cols, AGENT_ID_COLUMNS, 'agent id');
  column(table, cols, ['status'], 'status');
  const rows = await client.query<{ status: string | null }>(
    `SELECT status::text AS status FROM ${table} WHERE "${id}"::text = $1 FOR UPDATE`,
    [agentId],
  );
  if (rows.rowCount === 0) throw notFound(agentId);
  const before = countBy(rows.rows.map((r) => r.status ?? 'null'));
  const sets = ["status = 'suspended'", ...['suspended_at', 'updated_at'].filter((c) => cols.includes(c)).map(now)];
  return {
    action: 'suspend-agent',
    agentId,
    table,
    rows: rows.rows.filter((r) => r.status !== 'suspended').length,
    before,
    sql: `UPDATE ${table} SET ${sets.join(', ')} WHERE "${id}"::text = $1 ` + `AND status IS DISTINCT FROM 'suspended'`,
    params: [agentId],
  };
}

/**
 * Every live credential of the agent revoked: revoked_at set, status 'revoked' and/or revoked
 * true, whichever the table has. A credential already revoked keeps its original time.
 */
export async function planRevoke(client: pg.Client, agentId: string): Promise<RunbookChange> {
  assertAgentId(agentId);
  const [table, cols] = await findTable(client, CREDENTIAL_TABLES, 'credentials');
  const agent = column(table, cols, CREDENTIAL_AGENT_COLUMNS, 'agent');
  const marks = revocationMarks(table, cols);
  const live = marks.map((m) => m.live).join(' OR ');
  const rows = await client.query<{ live: boolean }>(
    `SELECT (${live}) AS live FROM ${table} WHERE "${agent}"::text = $1 FOR UPDATE`,
    [agentId],
  );
  const liveRows = rows.rows.filter((r) => r.live).length;
  return {
    action: 'revoke-credentials',
    agentId,
    table,
    rows: liveRows,
    before: { live: liveRows, revoked: rows.rows.length - liveRows },
    sql: `UPDATE ${table} SET ${marks.map((m) => m.set).join(', ')} ` + `WHERE "${agent}"::text = $1 AND (${live})`,
    params: [agentId],
  };
}

interface Mark {
  set: string;
  live: string;
}

function revocationMarks(table: string, cols: string[]): Mark[] {
  const marks: Mark[] = [];
  // COALESCE keeps the time a credential was first revoked when another mark was still live.
  if (cols.includes('revoked_at'))
    marks.push({ set: 'revoked_at = COALESCE(revoked_at, now())', live: 'revoked_at IS NULL' });
  if (cols.includes('status')) marks.push({ set: "status = 'revoked'", live: "status IS DISTINCT FROM 'revoked'" });
  if (cols.includes('revoked')) marks.push({ set: 'revoked = true', live: 'revoked IS NOT TRUE' });
  if (marks.length === 0)
    throw new UsageError({
      code: 'AGENTIDP_TABLE_UNSUITABLE',
      message: `${table} (columns ${cols.join(', ')}) has no revoked_at, status or revoked column`,
      hint: 'agentkeys changes only tables it understands; do this step by hand and record it with agentkeys sign',
    });
  return marks;
}

const PLANS: Record<RunbookAction, (client: pg.Client, agentId: string) => Promise<RunbookChange>> = {
  'suspend-agent': planSuspend,
  'revoke-credentials': planRevoke,
};

/** What would change, read under the same row locks as the change (released by the rollback). */
export async function planStep(client: pg.Client, action: RunbookAction, agentId: string): Promise<RunbookChange> {
  await client.query('BEGIN');
  try {
    return await PLANS[action](client, agentId);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
  }
}

export interface StepHooks {
  /** Records the change (the audit chain) inside the transaction; a throw rolls the change back. */
  record(change: RunbookChange, applied: number): Promise<void>;
  /** COMMIT failed after record: says so where record did; returns what it managed. */
  commitFailed(err: unknown): Promise<string>;
}

/**
 * One runbook step in one transaction: the rows locked and changed, the change recorded, then
 * COMMIT. A change that could not be recorded is rolled back, so AgentIdP never holds a
 * suspension or revocation the audit trail does not show. Nothing to change: nothing recorded.
 */
export async function runStep(
  client: pg.Client,
  action: RunbookAction,
  agentId: string,
  hooks: StepHooks,
): Promise<{ change: RunbookChange; applied: number }> {
  await client.query('BEGIN');
  let recorded = false;
  try {
    const change = await PLANS[action](client, agentId);
    if (change.rows === 0) {
      await client.query('ROLLBACK');
      return { change, applied: 0 };
    }
    const applied = (await client.query(change.sql, change.params)).rowCount ?? 0;
    await hooks.record(change, applied);
    recorded = true;
    await client.query('COMMIT');
    return { change, applied };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    if (!recorded) throw err;
    const said = await hooks.commitFailed(err);
    throw new AgentkeysError({
      code: 'AGENTIDP_COMMIT_FAILED',
      message: `${action} ${agentId}: recorded, but the database did not commit it (${messageOf(err)}); ${said}`,
      hint: 'check the database and run the step again',
      cause: err,
    });
  }
}

const now = (c: string) => `${c} = now()`;

function countBy(values: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of values) out[v] = (out[v] ?? 0) + 1;
  return out;
}
