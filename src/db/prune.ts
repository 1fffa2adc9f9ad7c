// Audit retention for AgentIdP's audit table (its free tier keeps 90 days): rows older than a
// date deleted in one transaction. Never an agentkeys chain: a chain is exported and checkpointed,
// not cut, and pruning it would read as tampering to every verifier.
import type pg from 'pg';
import { UsageError } from '../errors.js';
import { assertTableName, isAgentkeysChain, TIME_COLUMNS } from './agentidp-audit.js';
import { columnsOf } from './migrate.js';

export interface PruneResult {
  table: string;
  column: string;
  before: string;
  rows: number;
  applied: boolean;
}

export async function pruneAuditTable(
  client: pg.Client,
  table: string,
  before: Date,
  opts: { plan: boolean },
): Promise<PruneResult> {
  assertTableName(table);
  const cols = await columnsOf(client, table);
  if (!cols)
    throw new UsageError({
      code: 'PRUNE_TABLE_UNSUITABLE',
      message: `there is no table ${table}`,
      hint: '--table audit_events',
    });
  if (isAgentkeysChain(cols))
    throw new UsageError({
      code: 'AUDIT_CHAIN_NOT_PRUNABLE',
      message: `${table} is an agentkeys audit chain: it is never pruned (a cut chain reads as tampering)`,
      hint: 'export it (agentkeys audit export) and keep its checkpoints; prune only AgentIdP\u2019s own table',
    });
  const column = TIME_COLUMNS.find((c) => cols.includes(c));
  if (!column)
    throw new UsageError({
      code: 'PRUNE_TABLE_UNSUITABLE',
      message: `${table} has no time column (${TIME_COLUMNS.join(', ')}): nothing says how old a row is`,
      hint: "name AgentIdP's audit table: --table audit_events",
    });
  const where = `"${column}" < $1`;
  if (opts.plan) {
    const n = await client.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${table} WHERE ${where}`, [before]);
    return { table, column, before: before.toISOString(), rows: Number(n.rows[0]!.n), applied: false };
  }
  await client.query('BEGIN');
  try {
    const deleted = await client.query(`DELETE FROM ${table} WHERE ${where}`, [before]);
    await client.query('COMMIT');
    return { table, column, before: before.toISOString(), rows: deleted.rowCount ?? 0, applied: true };
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw err;
  }
}
