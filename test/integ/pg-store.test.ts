import { execFile } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { promisify } from 'node:util';
import { loadMigrations } from '../../src/db/migrate.js';
import { describe, expect, it } from 'vitest';
import { appendSignedEvents } from '../../src/audit/append.js';
import { digestRow } from '../../src/audit/record.js';
import { LocalKeySigner, loadPrivateKey, type AuditSigner } from '../../src/signing/signer.js';
import { PgAuditLog } from '../../src/store/pg-log.js';
import { runCli } from '../helpers/cli.js';
import { createTestDatabase, sql } from '../helpers/pg-db.js';
import { tempDir } from '../helpers/tmp.js';
import { amBuildChain, EDGE_CASE_PAYLOADS } from '../fixtures/agent-manager-reference.js';

const execFileAsync = promisify(execFile);

/** AgentIdP's audit table as the issue describes it: its own audit_events, other columns. */
const AGENTIDP_AUDIT_TABLE =
  'CREATE TABLE audit_events (event_id uuid PRIMARY KEY DEFAULT gen_random_uuid(), agent_id text, action text, ' +
  'outcome text, metadata jsonb, "timestamp" timestamptz NOT NULL)';
const WRITER = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../dist/test/helpers/pg-writer.js');

async function ok(args: string[], cwd: string, input?: string, env?: Record<string, string>) {
  const r = await runCli(args, { cwd, ...(input !== undefined ? { input } : {}), ...(env ? { env } : {}) });
  if (r.code !== 0) throw new Error(`agentkeys ${args.join(' ')} exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r;
}

async function migratedDb(cwd: string): Promise<string> {
  const url = await createTestDatabase();
  await ok(['db', 'migrate', '--database-url', url], cwd);
  return url;
}

async function withKey(alg = 'ed25519'): Promise<string> {
  const cwd = tempDir();
  await ok(['keys', 'create', '--local', '--alg', alg, '--kid', 'k1'], cwd);
  return cwd;
}

const verifyJson = async (cwd: string, log: string, extra: string[] = []) => {
  const r = await runCli(['verify-audit', '--json', '--log', log, ...extra], { cwd });
  return { code: r.code, report: JSON.parse(r.stdout) };
};

describe('db migrate', () => {
  it('applies every migration once, is a no-op the second time, and --plan tells (exit 4 / 0)', async () => {
    const cwd = tempDir();
    const url = await createTestDatabase();
    expect((await runCli(['db', 'migrate', '--plan', '--database-url', url], { cwd })).code).toBe(4);
    const first = JSON.parse((await ok(['--json', 'db', 'migrate', '--database-url', url], cwd)).stdout);
    expect(first.applied).toEqual([
      '0001_create_audit_events',
      '0002_linear_chain',
      '0003_audit_query_indexes',
      '0004_audit_checkpoints',
      '0005_single_round_trip_append',
      '0006_checkpoint_prior_range',
    ]);
    const second = JSON.parse((await ok(['--json', 'db', 'migrate', '--database-url', url], cwd)).stdout);
    expect(second.applied).toEqual([]);
    expect((await runCli(['db', 'migrate', '--plan', '--database-url', url], { cwd })).code).toBe(0);
    const rows = await sql<{ version: string; checksum: string }>(
      url,
      'SELECT version, checksum FROM agentkeys_schema_migrations ORDER BY version',
    );
    expect(rows.map((r) => r.version)).toEqual(['0001', '0002', '0003', '0004', '0005', '0006']);
    expect(rows[0]!.checksum).toMatch(/^[0-9a-f]{64}$/);
  });

  it("a neighbour's schema_migrations (AgentIdP's) is never read or written; its own folder applies with --table", async () => {
    const cwd = tempDir();
    const url = await createTestDatabase();
    // AgentIdP's bookkeeping, in columns of its own (the crash of issue 28: agentkeys read it as its own).
    await sql(url, 'CREATE TABLE schema_migrations (filename text PRIMARY KEY, run_on timestamptz DEFAULT now())');
    await sql(url, "INSERT INTO schema_migrations (filename) VALUES ('001_create_agents.sql')");
    const first = await runCli(['--json', 'db', 'migrate', '--database-url', url], { cwd });
    expect(first.code, first.stdout).toBe(0);
    expect(JSON.parse(first.stdout).applied).toHaveLength(6);
    expect(await sql<{ filename: string }>(url, 'SELECT filename FROM schema_migrations')).toEqual([
      { filename: '001_create_agents.sql' },
    ]);
    // AgentIdP's migrations (numbered its own way), recorded in a table of their own.
    const dir = path.join(cwd, 'agentidp-migrations');
    mkdirSync(dir);
    writeFileSync(path.join(dir, '001_create_agents.sql'), 'CREATE TABLE agents (id uuid PRIMARY KEY, email text);');
    writeFileSync(path.join(dir, '002_create_credentials.sql'), 'CREATE TABLE credentials (client_id uuid);');
    writeFileSync(path.join(dir, '010_add_vault_path.sql'), 'ALTER TABLE credentials ADD COLUMN vault_path text;');
    const args = ['--json', 'db', 'migrate', '--database-url', url, '--dir', dir, '--table', 'agentidp_applied'];
    const plan = await runCli([...args, '--plan'], { cwd });
    expect({ code: plan.code, pending: JSON.parse(plan.stdout).pending }).toEqual({
      code: 4,
      pending: ['001_create_agents', '002_create_credentials', '010_add_vault_path'],
    });
    expect(JSON.parse((await runCli(args, { cwd })).stdout).applied).toHaveLength(3);
    expect(JSON.parse((await runCli(args, { cwd })).stdout).applied).toEqual([]);
    // Pointed at the neighbour's table, agentkeys refuses rather than guess at its columns.
    const foreign = await runCli(
      ['--json', 'db', 'migrate', '--database-url', url, '--dir', dir, '--table', 'schema_migrations'],
      {
        cwd,
      },
    );
    expect(JSON.parse(foreign.stdout).error.code).toBe('MIGRATION_TABLE_FOREIGN');
    const half = await runCli(['--json', 'db', 'migrate', '--database-url', url, '--dir', dir], { cwd });
    expect(JSON.parse(half.stdout).error.code).toBe('FLAG_CONFLICT');
  });

  it("agentkeys' rows in the schema_migrations it used before are adopted, the table left as it was", async () => {
    const cwd = tempDir();
    const url = await createTestDatabase();
    await sql(
      url,
      'CREATE TABLE schema_migrations (version text PRIMARY KEY, name text NOT NULL, checksum text NOT NULL, ' +
        'applied_at timestamptz NOT NULL DEFAULT now())',
    );
    // What an older agentkeys did: apply 0001 and record it there.
    const files = (await loadMigrations()).slice(0, 1);
    await sql(url, files[0]!.sql);
    await sql(
      url,
      `INSERT INTO schema_migrations (version, name, checksum) VALUES ('0001', '${files[0]!.name}', '${files[0]!.checksum}')`,
    );
    const r = await runCli(['--json', 'db', 'migrate', '--database-url', url], { cwd });
    expect(r.code, r.stdout).toBe(0);
    expect(JSON.parse(r.stdout).applied).not.toContain('0001_create_audit_events');
    expect(
      (await sql<{ version: string }>(url, 'SELECT version FROM agentkeys_schema_migrations ORDER BY version')).map(
        (x) => x.version,
      ),
    ).toEqual(['0001', '0002', '0003', '0004', '0005', '0006']);
    expect(
      (await sql<{ version: string }>(url, 'SELECT version FROM schema_migrations')).map((x) => x.version),
    ).toEqual(['0001']);
  });

  it("audit prune deletes AgentIdP's old audit rows in one transaction, and never an agentkeys chain", async () => {
    const cwd = tempDir();
    const idp = await createTestDatabase();
    await sql(idp, AGENTIDP_AUDIT_TABLE);
    await sql(
      idp,
      "INSERT INTO audit_events (agent_id, action, outcome, \"timestamp\") VALUES ('a', 'token.issued', 'success', " +
        "now() - interval '200 days'), ('a', 'agent.suspended', 'success', now() - interval '100 days'), " +
        "('b', 'token.issued', 'success', now())",
    );
    const args = ['--json', 'audit', 'prune', '--database-url', idp, '--table', 'audit_events', '--before', '90d'];
    const plan = await runCli([...args, '--plan'], { cwd });
    expect({ code: plan.code, rows: JSON.parse(plan.stdout).rows }).toEqual({ code: 4, rows: 2 });
    const done = await runCli(args, { cwd });
    expect(JSON.parse(done.stdout)).toMatchObject({ ok: true, rows: 2, column: 'timestamp', applied: true });
    expect(await sql<{ agent_id: string }>(idp, 'SELECT agent_id FROM audit_events')).toEqual([{ agent_id: 'b' }]);
    const chain = await migratedDb(cwd);
    const refused = await runCli(
      ['--json', 'audit', 'prune', '--database-url', chain, '--table', 'audit_events', '--before', '1d'],
      { cwd },
    );
    expect(JSON.parse(refused.stdout).error.code).toBe('AUDIT_CHAIN_NOT_PRUNABLE');
  });

  it("both audit_events tables in one database: agentkeys' chain in ?schema=, AgentIdP's read with --source", async () => {
    const cwd = await withKey();
    const url = await createTestDatabase();
    await sql(url, AGENTIDP_AUDIT_TABLE);
    await sql(
      url,
      'INSERT INTO audit_events (agent_id, action, outcome, metadata, "timestamp") VALUES ' +
        "('agent-1', 'token.issued', 'success', '{\"scope\":\"read\"}', now() - interval '2 hours'), " +
        "('agent-1', 'agent.suspended', 'success', NULL, now() - interval '1 hour'), " +
        "(E'agent-\\x1b[2J', 'token.issued', 'failure', NULL, now())",
    );
    const publicColumns = () =>
      sql(
        url,
        "SELECT column_name FROM information_schema.columns WHERE table_name = 'audit_events' " +
          "AND table_schema = 'public' ORDER BY ordinal_position",
      );
    const idpColumns = await publicColumns();
    // Migrated into public, agentkeys would alter AgentIdP's table: refused before anything runs.
    const refused = await runCli(['--json', 'db', 'migrate', '--database-url', url], { cwd });
    expect(JSON.parse(refused.stdout).error).toMatchObject({ code: 'AUDIT_TABLE_FOREIGN' });
    expect(JSON.parse(refused.stdout).error.hint).toContain('?schema=agentkeys');
    const chain = `${url}?schema=agentkeys`;
    await ok(['db', 'migrate', '--database-url', chain], cwd);
    await ok(['sign', '--log', chain, '--key', 'local:k1', '--event-type', 'agent.created', '--payload', '{}'], cwd);
    expect((await verifyJson(cwd, chain)).code).toBe(0);
    expect(await sql(url, 'SELECT count(*)::int AS n FROM agentkeys.audit_events')).toEqual([{ n: 1 }]);
    // AgentIdP's table: its columns and rows as they were.
    expect(await publicColumns()).toEqual(idpColumns);
    expect(await sql(url, 'SELECT count(*)::int AS n FROM public.audit_events')).toEqual([{ n: 3 }]);
    const query = ['--json', 'audit', 'query', '--source', 'agentidp', '--database-url', url];
    const issued = JSON.parse((await ok([...query, '--event-type', 'token.issued'], cwd)).stdout);
    expect(issued.events.map((e: { actor_id: string; outcome: string }) => [e.actor_id, e.outcome])).toEqual([
      ['agent-\x1b[2J', 'failure'],
      ['agent-1', 'success'],
    ]);
    const recent = JSON.parse((await ok([...query, '--actor', 'agent-1', '--since', '90m'], cwd)).stdout);
    expect(recent.events.map((e: { event_type: string }) => e.event_type)).toEqual(['agent.suspended']);
    expect(JSON.parse((await ok([...query, '--actor', 'agent-1', '--limit', '1'], cwd)).stdout).events).toHaveLength(1);
    // The table as a terminal sees it: an agent id cannot clear the screen.
    const table = await ok(['audit', 'query', '--source', 'agentidp', '--database-url', url], cwd);
    expect(table.stdout).not.toContain('\x1b[2J');
    expect(table.stdout).toContain('agent-\\u001b[2J');
    // agentkeys' chain is not AgentIdP's table, and the reverse.
    const mismatch = await runCli([...query.slice(0, 6), chain], { cwd });
    expect(JSON.parse(mismatch.stdout).error.code).toBe('AUDIT_SOURCE_MISMATCH');
    // Tables it does not understand are named, never guessed at.
    await sql(url, 'CREATE TABLE notes (body text)');
    for (const table of ['nothere', 'notes', 'Bad-Name'])
      expect(JSON.parse((await runCli([...query, '--table', table], { cwd })).stdout).error.code).toMatch(
        /^(AGENTIDP_TABLE_UNSUITABLE|FLAG_INVALID)$/,
      );
    const badSchema = await runCli(['--json', 'verify-audit', '--log', `${url}?schema=x;drop`], { cwd });
    expect(JSON.parse(badSchema.stdout).error.code).toBe('DATABASE_URL_INVALID');
  });

  it('two processes migrating at once apply each file exactly once', async () => {
    const cwd = tempDir();
    const url = await createTestDatabase();
    const [a, b] = await Promise.all([
      ok(['--json', 'db', 'migrate', '--database-url', url], cwd),
      ok(['--json', 'db', 'migrate', '--database-url', url], cwd),
    ]);
    const applied = [...JSON.parse(a.stdout).applied, ...JSON.parse(b.stdout).applied];
    expect(applied.sort()).toEqual([
      '0001_create_audit_events',
      '0002_linear_chain',
      '0003_audit_query_indexes',
      '0004_audit_checkpoints',
      '0005_single_round_trip_append',
      '0006_checkpoint_prior_range',
    ]);
  });

  it('a changed applied file is MIGRATION_CHECKSUM_MISMATCH (exit 2)', async () => {
    const cwd = tempDir();
    const url = await migratedDb(cwd);
    await sql(url, `UPDATE agentkeys_schema_migrations SET checksum = repeat('0', 64) WHERE version = '0002'`);
    const r = await runCli(['--json', 'db', 'migrate', '--database-url', url], { cwd });
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stdout).error.code).toBe('MIGRATION_CHECKSUM_MISMATCH');
  });

  it('an unreachable server is PG_CONNECT_FAILED (exit 1) and the password is not printed', async () => {
    const r = await runCli(['db', 'migrate', '--database-url', 'postgres://u:hunter2@127.0.0.1:1/x'], {
      cwd: tempDir(),
    });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/PG_CONNECT_FAILED/);
    expect(r.stderr).not.toMatch(/hunter2/);
  });
});

describe('sign and verify-audit on Postgres', () => {
  it('signs into audit_events and verifies, with DATABASE_URL as the default log', async () => {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    await ok(
      [
        'sign',
        '--key',
        'local:k1',
        '--event-type',
        'agent_spawned',
        '--actor',
        'agent-manager',
        '--payload',
        '{"action":"spawn"}',
      ],
      cwd,
      undefined,
      { DATABASE_URL: url },
    );
    const batch = EDGE_CASE_PAYLOADS.filter((p) => p !== null)
      .map((payload) => JSON.stringify({ event_type: 'edge', payload }))
      .join('\n');
    await ok(['sign', '--log', url, '--key', 'local:k1', '--batch'], cwd, batch);
    const { code, report } = await verifyJson(cwd, url);
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    expect(report.events).toBe(EDGE_CASE_PAYLOADS.length);
    const seqs = await sql<{ chain_seq: string }>(url, 'SELECT chain_seq FROM audit_events ORDER BY chain_seq');
    expect(seqs.map((r) => Number(r.chain_seq))).toEqual(
      Array.from({ length: EDGE_CASE_PAYLOADS.length }, (_, i) => i + 1),
    );
  });

  it('refuses U+0000, which jsonb cannot store (PAYLOAD_NOT_STORABLE), and writes nothing', async () => {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    const r = await runCli(
      ['--json', 'sign', '--log', url, '--key', 'local:k1', '--event-type', 't', '--payload', '{"s":"a\\u0000b"}'],
      { cwd },
    );
    expect(JSON.parse(r.stdout).error.code).toBe('PAYLOAD_NOT_STORABLE');
    expect(await sql(url, 'SELECT 1 FROM audit_events')).toHaveLength(0);
  });

  it('an unmigrated database is PG_NOT_MIGRATED with the command to run', async () => {
    const cwd = await withKey();
    const url = await createTestDatabase();
    const r = await runCli(['sign', '--log', url, '--key', 'local:k1', '--event-type', 't', '--payload', '{}'], {
      cwd,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/PG_NOT_MIGRATED/);
    expect(r.stderr).toMatch(/agentkeys db migrate/);
  });

  it('a writer blocked behind the chain lock fails with PG_STATEMENT_TIMEOUT, not forever', async () => {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    const pg = (await import('pg')).default;
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    await holder.query('BEGIN');
    await holder.query('SELECT pg_advisory_xact_lock($1)', [0x61676b63]);
    try {
      const r = await runCli(
        ['--json', 'sign', '--log', url, '--key', 'local:k1', '--event-type', 't', '--payload', '{}'],
        { cwd, env: { AGENTKEYS_PG_STATEMENT_TIMEOUT_MS: '300' } },
      );
      expect(r.code).toBe(1);
      expect(JSON.parse(r.stdout).error.code).toBe('PG_STATEMENT_TIMEOUT');
    } finally {
      await holder.query('ROLLBACK');
      await holder.end();
    }
  });

  it('10 processes × 100 per-row events make one linear chain of 1,000 with no fork, none refused', async () => {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    const key = path.join(cwd, '.agentkeys/keys/k1.pem');
    await Promise.all(
      Array.from({ length: 10 }, (_, w) => execFileAsync(process.execPath, [WRITER, url, key, 'k1', '100', String(w)])),
    );
    const { code, report } = await verifyJson(cwd, url);
    expect(report.findings).toEqual([]);
    expect(code).toBe(0);
    expect(report.events).toBe(1000);
    const [{ n, distinct_prev }] = await sql<{ n: string; distinct_prev: string }>(
      url,
      'SELECT count(*) AS n, count(DISTINCT prev_hash) AS distinct_prev FROM audit_events',
    );
    expect([Number(n), Number(distinct_prev)]).toEqual([1000, 999]); // 999 links + one NULL genesis
  });
});

describe('group commit of signed appends', () => {
  it('concurrent appends of one process share a transaction; a signer that fails loses only its own event', async () => {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    const keyFile = path.join(cwd, '.agentkeys/keys/k1.pem');
    const good = new LocalKeySigner('k1', loadPrivateKey(readFileSync(keyFile, 'utf8'), keyFile), keyFile);
    const failing: AuditSigner = {
      kid: 'k1',
      alg: good.alg,
      source: 'a signer that fails',
      sign: () => Promise.reject(new Error('HSM unplugged')),
      verifyOwn: () => Promise.resolve(false),
    };
    const store = new PgAuditLog({ url });
    try {
      const event = (i: number) => ({ event_type: 't', actor_id: 'a', payload: { i } });
      const results = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => appendSignedEvents(store, i === 5 ? failing : good, [event(i)])),
      );
      expect(results.filter((r) => r.status === 'rejected')).toHaveLength(1);
      expect((results[5] as PromiseRejectedResult).reason.message).toMatch(/HSM unplugged/);
    } finally {
      await store.close();
    }
    const { code, report } = await verifyJson(cwd, url);
    expect(code, JSON.stringify(report.findings)).toBe(0);
    expect(report.events).toBe(11);
  });
});

describe('an existing Agent Manager database', () => {
  const ed = generateKeyPairSync('ed25519');
  const signers = (dir: string) => {
    const file = path.join(dir, 'signers.json');
    writeFileSync(
      file,
      JSON.stringify({
        signers: [
          { signerId: 'am', algorithm: 'Ed25519', publicKey: ed.publicKey.export({ type: 'spki', format: 'pem' }) },
        ],
      }),
    );
    return file;
  };
  async function agentManagerDb(forkAt?: number): Promise<string> {
    const url = await createTestDatabase();
    await sql(url, readFileSync(path.resolve('src/db/migrations/0001_create_audit_events.sql'), 'utf8'));
    const rows = amBuildChain(EDGE_CASE_PAYLOADS.slice(0, 8), { alg: 'ed25519', privateKey: ed.privateKey }, 'am');
    if (forkAt !== undefined) {
      const [extra] = amBuildChain([{ forked: true }], { alg: 'ed25519', privateKey: ed.privateKey }, 'am');
      rows.push({
        ...extra!,
        prev_hash: rows[forkAt]!.prev_hash,
        created_at: new Date(Date.UTC(2026, 10, 23)).toISOString(),
      });
    }
    for (const r of rows) {
      await sql(
        url,
        'INSERT INTO audit_events (id, actor_id, event_type, payload, signature, signer_kid, prev_hash, created_at) VALUES ($1,$2,$3,$4::jsonb,$5,$6,$7,$8)',
        [
          r.id,
          r.actor_id,
          r.event_type,
          JSON.stringify(r.payload),
          r.signature,
          r.signer_kid,
          r.prev_hash,
          r.created_at,
        ],
      );
    }
    return url;
  }

  it('is verified before migration, adopted in place by db migrate, and extended by sign', async () => {
    const cwd = tempDir();
    const file = signers(cwd);
    const url = await agentManagerDb();
    expect((await verifyJson(cwd, url, ['--signers', file])).report).toMatchObject({ ok: true, events: 8 });
    await ok(['db', 'migrate', '--database-url', url], cwd);
    const keyFile = path.join(cwd, 'am.pem');
    writeFileSync(keyFile, ed.privateKey.export({ type: 'pkcs8', format: 'pem' }));
    await ok(
      [
        'sign',
        '--log',
        url,
        '--key',
        `file:${keyFile}`,
        '--signer-kid',
        'am',
        '--event-type',
        't',
        '--payload',
        '{"after":"migration"}',
      ],
      cwd,
    );
    expect((await verifyJson(cwd, url, ['--signers', file])).report).toMatchObject({
      ok: true,
      events: 9,
      findings: [],
    });
  });

  it('a forked legacy chain is reported as FORK, and migration 0002 refuses it', async () => {
    const cwd = tempDir();
    const file = signers(cwd);
    const url = await agentManagerDb(4);
    const { code, report } = await verifyJson(cwd, url, ['--signers', file]);
    expect(code).toBe(3);
    expect(report.findings.map((f: { code: string }) => f.code)).toContain('FORK');
    const r = await runCli(['--json', 'db', 'migrate', '--database-url', url], { cwd });
    expect(JSON.parse(r.stdout).error.code).toBe('MIGRATION_FAILED');
    // 0001 was already there; the failed 0002 left nothing behind.
    expect(
      (await sql<{ version: string }>(url, 'SELECT version FROM agentkeys_schema_migrations')).map((x) => x.version),
    ).toEqual(['0001']);
  });
});

describe('audit query and audit export', () => {
  async function populated() {
    const cwd = await withKey();
    const lines = [
      { event_type: 'agent_spawned', actor_id: 'a-1', payload: { n: 1 } },
      { event_type: 'tool_call', actor_id: 'a-1', payload: { n: 2 } },
      { event_type: 'tool_call', actor_id: 'a-2', payload: { n: 3 } },
      { event_type: 'agent_stopped', actor_id: 'a-1', payload: { n: 4 } },
    ]
      .map((e) => JSON.stringify(e))
      .join('\n');
    await ok(['sign', '--log', 'a.jsonl', '--key', 'local:k1', '--batch'], cwd, lines);
    return cwd;
  }

  it('file → Postgres → file keeps every row and the head digest', async () => {
    const cwd = await populated();
    const url = await migratedDb(cwd);
    const toPg = JSON.parse((await ok(['--json', 'audit', 'export', '--log', 'a.jsonl', '--out', url], cwd)).stdout);
    const back = JSON.parse((await ok(['--json', 'audit', 'export', '--log', url, '--out', 'b.jsonl'], cwd)).stdout);
    expect(toPg.head).toBe(back.head);
    const rows = (f: string) =>
      readFileSync(path.join(cwd, f), 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l));
    expect(rows('b.jsonl')).toEqual(rows('a.jsonl'));
    expect((await verifyJson(cwd, url)).report).toMatchObject({ ok: true, events: 4, head: toPg.head });
    expect((await verifyJson(cwd, 'b.jsonl')).report).toMatchObject({ ok: true, events: 4, head: toPg.head });
  });

  it('refuses a destination that already holds events (EXPORT_DEST_NOT_EMPTY)', async () => {
    const cwd = await populated();
    const url = await migratedDb(cwd);
    await ok(['audit', 'export', '--log', 'a.jsonl', '--out', url], cwd);
    const r = await runCli(['--json', 'audit', 'export', '--log', 'a.jsonl', '--out', url], { cwd });
    expect(JSON.parse(r.stdout).error.code).toBe('EXPORT_DEST_NOT_EMPTY');
    expect(Number((await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM audit_events'))[0]!.n)).toBe(4);
  });

  it('gives the same answers on a file and on Postgres, newest first', async () => {
    const cwd = await populated();
    const url = await migratedDb(cwd);
    await ok(['audit', 'export', '--log', 'a.jsonl', '--out', url], cwd);
    for (const filter of [
      ['--agent', 'a-1'],
      ['--action', 'tool_call'],
      ['--agent', 'a-1', '--limit', '2'],
      ['--since', '1h'],
      ['--until', '2000-01-01'],
    ]) {
      const onFile = JSON.parse(
        (await ok(['--json', 'audit', 'query', '--log', 'a.jsonl', ...filter], cwd)).stdout,
      ).events;
      const onPg = JSON.parse((await ok(['--json', 'audit', 'query', '--log', url, ...filter], cwd)).stdout).events;
      expect(onPg).toEqual(onFile);
    }
    const a1 = JSON.parse((await ok(['--json', 'audit', 'query', '--log', url, '--agent', 'a-1'], cwd)).stdout).events;
    expect(a1.map((e: { payload: { n: number } }) => e.payload.n)).toEqual([4, 2, 1]);
  });

  it('a bad time is TIME_INVALID (exit 2)', async () => {
    const r = await runCli(['audit', 'query', '--log', 'a.jsonl', '--since', 'yesterday'], { cwd: tempDir() });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/TIME_INVALID/);
  });
});

describe('checkpoint mode in Postgres', () => {
  it('checkpoints go to agentkeys_audit_checkpoints; a dropped tail is TRUNCATED with no anchor; mixed with per-row events', async () => {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    const batch = (n: number, from: number) =>
      Array.from({ length: n }, (_, i) =>
        JSON.stringify({ event_type: 't', actor_id: 'a', payload: { n: from + i } }),
      ).join('\n');
    await ok(['sign', '--log', url, '--key', 'local:k1', '--batch'], cwd, batch(3, 1));
    // A head written by another tool has no chain_digest: the database cannot link to it, so the
    // first checkpoint-mode append links on the client side (and fills chain_digest for the next).
    await sql(url, 'UPDATE audit_events SET chain_digest = NULL');
    const signBatch = async (flags: string[], input: string) =>
      JSON.parse(
        (await ok(['--json', 'sign', '--log', url, '--key', 'local:k1', '--batch', ...flags], cwd, input)).stdout,
      );
    const signed = await signBatch(['--checkpoint-every', '4'], batch(9, 4));
    expect(signed.checkpoints).toMatchObject({ sizes: [4, 8, 12], signatures: 3 });
    const stored = await sql<{ tree_size: string }>(
      url,
      'SELECT tree_size FROM agentkeys_audit_checkpoints ORDER BY tree_size',
    );
    expect(stored.map((r) => Number(r.tree_size))).toEqual([4, 8, 12]);
    const good = await verifyJson(cwd, url);
    expect(good.code).toBe(0);
    expect(good.report.checkpoints).toMatchObject({ verified: 3, coveredEvents: 12 });
    // --checkpoint-interval reads the newest checkpoint's created_at: seconds old, so no new one.
    const waiting = await signBatch(['--checkpoint-interval', '1h'], batch(1, 13));
    expect(waiting.checkpoints).toMatchObject({ sizes: [], uncovered: 1 });
    await sql(url, 'DELETE FROM audit_events WHERE chain_seq = 13');
    // A writer with full database access drops the newest two events: the checkpoint at 12 says so.
    await sql(url, 'DELETE FROM audit_events WHERE chain_seq > 10');
    const cut = await verifyJson(cwd, url);
    expect(cut.code).toBe(3);
    expect(cut.report.findings).toContainEqual(expect.objectContaining({ code: 'TRUNCATED', index: 11 }));
  });

  it('10 concurrent checkpoint-mode writers make one chain with zero forks, every event covered and vouched for', async () => {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    const batch = (w: number) =>
      Array.from({ length: 25 }, (_, i) => JSON.stringify({ event_type: 't', actor_id: `w${w}`, payload: { i } })).join(
        '\n',
      );
    await Promise.all(
      Array.from({ length: 10 }, (_, w) =>
        ok(['sign', '--log', url, '--key', 'local:k1', '--batch', '--checkpoint-every', '10'], cwd, batch(w)),
      ),
    );
    const v = await verifyJson(cwd, url);
    expect(v.code, JSON.stringify(v.report.findings.slice(0, 3))).toBe(0);
    expect(v.report.events).toBe(250);
    // Every row was linked by the database in one statement and carries its digest.
    const missing = await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM audit_events WHERE chain_digest IS NULL');
    expect(Number(missing[0]!.n)).toBe(0);
    expect(v.report.checkpoints.coveredEvents).toBe(250);
  });
});

// Issue 21 on Postgres: the attacker can write audit_events and agentkeys_audit_checkpoints, but
// holds no signing key. Each attack ends in a refusal (exit 3, nothing appended) or in a verify
// that does not pass (exit 3 or 5).
describe('checkpoint mode in Postgres against a writer-side attacker', () => {
  const batch = (n: number, from: number) =>
    Array.from({ length: n }, (_, i) =>
      JSON.stringify({ event_type: 't', actor_id: 'a', payload: { n: from + i } }),
    ).join('\n');
  async function checkpointed(n = 10) {
    const cwd = await withKey();
    const url = await migratedDb(cwd);
    await ok(['sign', '--log', url, '--key', 'local:k1', '--batch', '--checkpoint-every', '5'], cwd, batch(n, 1));
    return { cwd, url };
  }
  const sign = (cwd: string, url: string, input: string) =>
    runCli(['--json', 'sign', '--log', url, '--key', 'local:k1', '--batch', '--checkpoint-every', '5'], { cwd, input });
  const count = async (url: string) =>
    Number((await sql<{ n: string }>(url, 'SELECT count(*) AS n FROM audit_events'))[0]!.n);

  /** Unsigned rows linked on from the head, as an attacker inserts them with SQL. */
  async function forgeRows(url: string, n: number, createdAt: string) {
    const head = (
      await sql<{ payload: never; prev_hash: string | null; chain_seq: string }>(
        url,
        'SELECT payload, prev_hash, chain_seq FROM audit_events ORDER BY chain_seq DESC LIMIT 1',
      )
    )[0]!;
    let prev = digestRow(head.payload, head.prev_hash).digest.toString('hex');
    for (let i = 0; i < n; i++) {
      const payload = { forged: i };
      const digest = digestRow(payload, prev).digest.toString('hex');
      await sql(
        url,
        'INSERT INTO audit_events (id, actor_id, event_type, payload, prev_hash, created_at, chain_seq, chain_digest) ' +
          `VALUES (gen_random_uuid(), 'mallory', 't', '${JSON.stringify(payload)}', '${prev}', '${createdAt}', ` +
          `${Number(head.chain_seq) + 1 + i}, '${digest}')`,
      );
      prev = digest;
    }
  }

  it('forged rows after the newest checkpoint: the next writer vouches only for its own (UNVOUCHED, exit 5); stale ones are refused', async () => {
    const { cwd, url } = await checkpointed();
    await forgeRows(url, 2, new Date().toISOString());
    expect((await sign(cwd, url, batch(2, 11))).code).toBe(0);
    const v = await verifyJson(cwd, url);
    expect(v.code).toBe(5);
    expect(v.report.findings).toEqual([expect.objectContaining({ code: 'UNVOUCHED', index: 11 })]);
    await forgeRows(url, 1, '2020-01-01T00:00:00Z');
    const refused = await sign(cwd, url, batch(1, 20));
    expect(refused.code).toBe(3);
    expect(refused.stderr).toContain('LOG_UNVOUCHED_EVENTS');
    expect(await count(url)).toBe(15);
  });

  it('cut rows with the checkpoint rows deleted: a writer refuses old uncovered rows; a cut below a checkpoint is LOG_DIVERGED', async () => {
    const { cwd, url } = await checkpointed(12);
    await sql(url, 'DELETE FROM audit_events WHERE chain_seq > 11');
    const below = await sign(cwd, url, batch(1, 13));
    expect(below.code).toBe(3);
    expect(below.stderr).toContain('LOG_DIVERGED');
    await sql(url, 'DELETE FROM agentkeys_audit_checkpoints');
    await sql(url, "UPDATE audit_events SET created_at = '2020-01-01T00:00:00Z'");
    const stale = await sign(cwd, url, batch(1, 13));
    expect(stale.code).toBe(3);
    expect(stale.stderr).toContain('LOG_UNVOUCHED_EVENTS');
    expect(await count(url)).toBe(11);
  });

  it('edited hints in agentkeys_audit_checkpoints are proven or recomputed, never signed over', async () => {
    const { cwd, url } = await checkpointed(10);
    const zero = JSON.stringify({ begin: 0, nodes: [{ level: 2, hash: '00'.repeat(32) }] });
    await sql(
      url,
      `UPDATE agentkeys_audit_checkpoints SET tree_range = '${zero}', prior_range = '${zero}', chain_position = 3`,
    );
    const r = await sign(cwd, url, batch(3, 11));
    expect(r.code, r.stderr).toBe(0);
    const v = await verifyJson(cwd, url);
    expect(v.code, JSON.stringify(v.report.findings)).toBe(0);
  });
});
