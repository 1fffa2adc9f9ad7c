// agentkeys agentidp suspend-agent / revoke-credentials against a real PostgreSQL holding
// AgentIdP-shaped tables, each change recorded in a real signed chain (a local ed25519 key).
import { readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, sql } from '../helpers/pg-db.js';
import { tempDir } from '../helpers/tmp.js';

const A = '11111111-1111-4111-8111-111111111111';
const B = '22222222-2222-4222-8222-222222222222';

async function agentidpDb(): Promise<string> {
  const url = await createTestDatabase();
  await sql(
    url,
    "CREATE TABLE agents (id uuid PRIMARY KEY, email text, status text NOT NULL DEFAULT 'active', " +
      'suspended_at timestamptz, updated_at timestamptz);' +
      'CREATE TABLE credentials (client_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), agent_id uuid, ' +
      "status text NOT NULL DEFAULT 'active', revoked_at timestamptz)",
  );
  await sql(url, `INSERT INTO agents (id, email) VALUES ('${A}', 'a@x'), ('${B}', 'b@x')`);
  await sql(
    url,
    `INSERT INTO credentials (agent_id) VALUES ('${A}'), ('${A}'), ('${B}');` +
      `INSERT INTO credentials (agent_id, status, revoked_at) VALUES ('${A}', 'revoked', '2026-01-01T00:00:00Z')`,
  );
  return url;
}

async function project(): Promise<string> {
  const cwd = tempDir();
  const r = await runCli(['keys', 'create', '--local', '--alg', 'ed25519', '--kid', 'k1'], { cwd });
  expect(r.code, r.stderr).toBe(0);
  return cwd;
}

const events = (cwd: string) =>
  readFileSync(path.join(cwd, 'audit.jsonl'), 'utf8')
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l) as { event_type: string; actor_id: string; payload: Record<string, unknown> });

describe('agentkeys agentidp (runbook steps against AgentIdP tables)', () => {
  it('suspends an agent in one transaction, recorded in the chain; a second run changes nothing', async () => {
    const [cwd, url] = await Promise.all([project(), agentidpDb()]);
    const step = ['--json', 'agentidp', 'suspend-agent', A, '--database-url', url, '--log', 'audit.jsonl'];
    const signed = [...step, '--key', 'local:k1', '--yes', '--actor', 'ops@x', '--reason', 'leaked token'];
    const plan = await runCli([...step, '--plan'], { cwd });
    expect({ code: plan.code, rows: JSON.parse(plan.stdout).rows }).toEqual({ code: 4, rows: 1 });
    const done = await runCli(signed, { cwd });
    expect(done.code, done.stdout).toBe(0);
    expect(JSON.parse(done.stdout)).toMatchObject({ rows: 1, table: 'agents', before: { active: 1 } });
    const rows = await sql<{ id: string; status: string; stamped: boolean }>(
      url,
      'SELECT id::text, status, (suspended_at IS NOT NULL AND updated_at IS NOT NULL) AS stamped FROM agents ORDER BY id',
    );
    expect(rows).toEqual([
      { id: A, status: 'suspended', stamped: true },
      { id: B, status: 'active', stamped: false },
    ]);
    expect(events(cwd)).toEqual([
      expect.objectContaining({
        event_type: 'agentidp.agent.suspended',
        actor_id: 'ops@x',
        payload: expect.objectContaining({ agent_id: A, rows: 1, reason: 'leaked token', table: 'agents' }),
      }),
    ]);
    const again = await runCli(signed, { cwd });
    expect(JSON.parse(again.stdout)).toMatchObject({ rows: 0, recorded: null });
    expect(events(cwd)).toHaveLength(1);
    expect((await runCli(['verify-audit', '--log', 'audit.jsonl'], { cwd })).code).toBe(0);
    expect((await runCli([...step, '--plan'], { cwd })).code).toBe(0);
  });

  it("revokes every live credential, keeping an earlier revocation's time, and only this agent's", async () => {
    const [cwd, url] = await Promise.all([project(), agentidpDb()]);
    const r = await runCli(
      ['--json', 'agentidp', 'revoke-credentials', A, '--database-url', url, '--log', 'audit.jsonl'].concat([
        '--key',
        'local:k1',
        '--yes',
      ]),
      { cwd },
    );
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ rows: 2, table: 'credentials', before: { live: 2, revoked: 1 } });
    const creds = await sql<{ agent: string; status: string; at: string }>(
      url,
      "SELECT agent_id::text AS agent, status, coalesce(to_char(revoked_at, 'YYYY'), '-') AS at FROM credentials " +
        'ORDER BY agent_id, revoked_at NULLS FIRST',
    );
    expect(creds.filter((c) => c.agent === A).map((c) => [c.status, c.at === '2026' ? 'old' : c.at])).toEqual([
      ['revoked', 'old'],
      ['revoked', 'old'],
      ['revoked', 'old'],
    ]);
    // The old one kept its own time (2026-01-01), the new ones are now: both this year here.
    expect(
      await sql(url, "SELECT count(*)::int AS n FROM credentials WHERE revoked_at = '2026-01-01T00:00:00Z'"),
    ).toEqual([{ n: 1 }]);
    expect(creds.filter((c) => c.agent === B)).toEqual([{ agent: B, status: 'active', at: '-' }]);
    expect(events(cwd).map((e) => [e.event_type, e.payload.rows])).toEqual([['agentidp.credentials.revoked', 2]]);
  });

  it('a change the chain cannot record is rolled back: AgentIdP never holds an unrecorded suspension', async () => {
    const [cwd, url] = await Promise.all([project(), agentidpDb()]);
    writeFileSync(path.join(cwd, 'audit.jsonl'), 'not a chain\n'); // a log the writer refuses to extend
    const r = await runCli(
      [
        '--json',
        'agentidp',
        'suspend-agent',
        A,
        '--database-url',
        url,
        '--log',
        'audit.jsonl',
        '--key',
        'local:k1',
      ].concat(['--yes']),
      { cwd },
    );
    expect(JSON.parse(r.stdout).error.code).toBe('AGENTIDP_CHANGE_NOT_RECORDED');
    expect(await sql(url, `SELECT status FROM agents WHERE id = '${A}'`)).toEqual([{ status: 'active' }]);
  });

  it('hostile ids and tables it does not understand are named errors, never a change', async () => {
    const [cwd, url] = await Promise.all([project(), agentidpDb()]);
    const base = ['--json', 'agentidp', 'suspend-agent'];
    const tail = ['--database-url', url, '--log', 'audit.jsonl', '--key', 'local:k1', '--yes'];
    const code = async (id: string, extra: string[] = tail) =>
      JSON.parse((await runCli([...base, id, ...extra], { cwd })).stdout).error?.code;
    expect(await code("x' OR '1'='1")).toBe('AGENT_ID_INVALID');
    expect(await code('\u001b[2J')).toBe('AGENT_ID_INVALID');
    expect(await code("x'OR'1'='1")).toBe('AGENT_NOT_FOUND'); // a parameter, never SQL
    expect(await code('33333333-3333-4333-8333-333333333333')).toBe('AGENT_NOT_FOUND');
    expect(await sql(url, "SELECT count(*)::int AS n FROM agents WHERE status = 'active'")).toEqual([{ n: 2 }]);
    const bare = await createTestDatabase();
    await sql(bare, 'CREATE TABLE agents (id uuid PRIMARY KEY, email text)');
    expect(await code(A, ['--database-url', bare, '--log', 'audit.jsonl', '--key', 'local:k1', '--yes'])).toBe(
      'AGENTIDP_TABLE_UNSUITABLE',
    );
    const noLog = await runCli([...base, A, '--database-url', url, '--yes'], { cwd });
    expect(JSON.parse(noLog.stdout).error.code).toMatch(/LOG/);
  });
});
