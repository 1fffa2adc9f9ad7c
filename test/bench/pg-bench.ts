// npm run bench:pg: events signed per second into Postgres by 1 and by 4 concurrent writer
// processes (one transaction per event, local Ed25519 key), and verify-audit events per second
// from Postgres beside the same chain from a JSON Lines file, all in one run.
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { writeBenchChain, writeBenchSigners } from './chain-file.js';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { exportChain } from '../../src/store/export.js';
import { withStore } from '../../src/store/store.js';
import { applyMigrations, loadMigrations, type Migration } from '../../src/db/migrate.js';
import { connectPg } from '../../src/db/pg.js';
import { startPostgres } from '../helpers/postgres.js';
import { LocalKeySigner } from '../../src/signing/signer.js';
import { PgAuditLog } from '../../src/store/pg-log.js';
import { measureCheckpointWrites } from './writer-check.js';

const copy = (from: string, to: string) =>
  withStore(from, {}, (src) => withStore(to, {}, (dst) => exportChain(src, dst)));

const run = promisify(execFile);
const here = path.dirname(fileURLToPath(import.meta.url));
const WRITER = path.join(here, '../helpers/pg-writer.js');
const WRITES = Number(process.env.BENCH_PG_WRITES ?? 4000);
// Enough events that connection set-up and the JIT's warm-up do not dominate the rate.
const LANE_WRITES = Number(process.env.BENCH_PG_LANE_WRITES ?? 16_000);
const CHAIN = Number(process.env.BENCH_PG_CHAIN ?? 100_000);

const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-pgbench-'));
const server = await startPostgres();
const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const keyFile = path.join(dir, 'k.pem');
writeFileSync(keyFile, privateKey.export({ type: 'pkcs8', format: 'pem' }));
const signers = writeBenchSigners(path.join(dir, 'signers.json'), publicKey);

/** A database with Agent Manager's own table only (migration 0001): no chain_seq, no unique indexes. */
async function agentManagerDb(name: string): Promise<string> {
  return freshDb(name, (m) => m.version === '0001');
}

/** Rows that share their prev_hash with an earlier row (two genesis rows count as one fork). */
async function countForks(url: string): Promise<{ rows: number; forks: number }> {
  const client = await connectPg({ url });
  const { rows } = await client.query<{ rows: string; distinct_prev: string; genesis: string }>(
    'SELECT count(*) AS rows, count(DISTINCT prev_hash) AS distinct_prev, count(*) FILTER (WHERE prev_hash IS NULL) AS genesis FROM audit_events',
  );
  await client.end();
  const r = rows[0]!;
  const linked = Number(r.rows) - Number(r.genesis);
  return { rows: Number(r.rows), forks: linked - Number(r.distinct_prev) + Math.max(0, Number(r.genesis) - 1) };
}

async function freshDb(name: string, only: (m: Migration) => boolean = () => true): Promise<string> {
  const admin = new pg.Client({ connectionString: server.url });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(server.url);
  url.pathname = `/${name}`;
  const client = await connectPg({ url: url.toString() });
  await applyMigrations(client, (await loadMigrations()).filter(only));
  await client.end();
  return url.toString();
}

/**
 * Events per second of `count` writer processes appending `total` events together, timed from a
 * start barrier (every writer started, connected and waiting) to the last one's exit: node's
 * start-up is not writing time.
 */
async function writers(url: string, count: number, total: number, mode = 'per-row', lanes?: number): Promise<number> {
  const children = Array.from({ length: count }, (_, w) =>
    spawn(process.execPath, [WRITER, url, keyFile, 'bench', String(total / count), String(w), mode], {
      env: { ...process.env, PG_WRITER_BARRIER: '1', ...(lanes ? { PG_WRITER_LANES: String(lanes) } : {}) },
      stdio: ['pipe', 'pipe', 'inherit'],
    }),
  );
  const exits = children.map(
    (c) =>
      new Promise<void>((resolve, reject) =>
        c.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`writer exited ${code}`)))),
      ),
  );
  await Promise.all(children.map((c) => new Promise<void>((resolve) => c.stdout!.once('data', () => resolve()))));
  const t = process.hrtime.bigint();
  for (const c of children) c.stdin!.end('go\n');
  await Promise.all(exits);
  return total / (Number(process.hrtime.bigint() - t) / 1e9);
}

const writeChainFile = (file: string, n: number) =>
  writeBenchChain(file, n, privateKey, (i) => ({ action: 'tool_call', agent: `agent-${i % 97}`, seq: i }));

/** verify-audit in its own process, as the CLI runs it: events per second and peak RSS. */
async function verifyRate(log: string): Promise<{ rate: number; rssMiB: number }> {
  const { stdout } = await run(process.execPath, [path.join(here, 'verify-child.js'), log, signers]);
  const r = JSON.parse(stdout) as { ok: boolean; events: number; ms: number; maxRssMiB: number };
  if (!r.ok) throw new Error(`${log} did not verify`);
  return { rate: r.events / (r.ms / 1000), rssMiB: r.maxRssMiB };
}

try {
  const one = await writers(await freshDb('bench_one'), 1, WRITES);
  const four = await writers(await freshDb('bench_four'), 4, WRITES);
  const rowFourDb = await freshDb('bench_row_four');
  const rowFour = await writers(rowFourDb, 4, LANE_WRITES, 'per-row', 8);
  const rowFourVerified = await verifyRate(rowFourDb);
  const amDb = await agentManagerDb('bench_agent_manager');
  const amFour = await writers(amDb, 4, LANE_WRITES, 'agent-manager', 8);
  const amForks = await countForks(amDb);
  const cpOne = await writers(await freshDb('bench_cp_one'), 1, LANE_WRITES, 'checkpoint');
  const cpFourDb = await freshDb('bench_cp_four');
  const cpFour = await writers(cpFourDb, 4, LANE_WRITES, 'checkpoint');
  const cpFourVerified = await verifyRate(cpFourDb);
  // The writer's check (issue 21) on the table the four writers filled: one sign call at a time.
  const checkStore = new PgAuditLog({ url: cpFourDb });
  const checkCost = await measureCheckpointWrites(checkStore, new LocalKeySigner('bench', privateKey, 'bench'), 50);
  await checkStore.close();
  const file = path.join(dir, 'chain.jsonl');
  await writeChainFile(file, CHAIN);
  const chainDb = await freshDb('bench_chain');
  await copy(file, chainDb);
  const quarterFile = path.join(dir, 'quarter.jsonl');
  await writeChainFile(quarterFile, Math.round(CHAIN / 4));
  const quarterDb = await freshDb('bench_quarter');
  await copy(quarterFile, quarterDb);
  const fromPg = await verifyRate(chainDb);
  const fromFile = await verifyRate(file);
  const quarter = await verifyRate(quarterDb);
  const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
  console.log(
    `Postgres audit store benchmark (local PostgreSQL on loopback, Ed25519; the first two lines: one append at a time per process)`,
  );
  console.log(`  sign, 1 writer process       ${fmt(one)} events/s  (${WRITES} events)`);
  console.log(
    `  sign, 4 writer processes     ${fmt(four)} events/s  (${WRITES} events, ${(four / one).toFixed(2)}× one writer; one chain lock serialises them)`,
  );
  console.log(
    `  per-row, 4 writers × 8 lanes ${fmt(rowFour)} events/s  (${LANE_WRITES} events, 8 concurrent appenders per process, ` +
      `group commit: one transaction per batch; target ≥ 1,000/s; verified: ${fmt(rowFourVerified.rate)} events/s, 0 forks)`,
  );
  console.log(
    `  Agent Manager's writer, 4 × 8 ${fmt(amFour)} events/s  (the baseline: head read with no lock, ${amForks.rows} events, ` +
      `${fmt(amForks.forks)} forks; agentkeys per-row = ${(rowFour / amFour).toFixed(2)}× its rate with 0 forks)`,
  );
  console.log(
    `  checkpoint mode, 1 writer    ${fmt(cpOne)} events/s  (${LANE_WRITES} events from 8 concurrent appenders per process, group commit: one statement per batch)`,
  );
  console.log(
    `  checkpoint mode, 4 writers   ${fmt(cpFour)} events/s  (${(cpFour / rowFour).toFixed(1)}× per-row with the same 4 × 8 appenders; ` +
      `target ≥ 3,000/s; the chain verified: ${fmt(cpFourVerified.rate)} events/s, 0 forks)`,
  );
  console.log(
    `  writer's check, checkpoint mode: ${checkCost.checkMs.toFixed(2)} ms per sign call (the newest checkpoint ` +
      `proven against the table, the tail read) beside ${checkCost.appendAndSignMs.toFixed(2)} ms to append one event ` +
      `and sign its checkpoint (median of 50 calls on the ${fmt(LANE_WRITES)}-event table)`,
  );
  console.log('  (every rate is timed from a start barrier: each writer process started, connected, and waiting)');
  console.log(
    `  verify-audit from Postgres   ${fmt(fromPg.rate)} events/s  (${CHAIN} events, peak RSS ${fromPg.rssMiB.toFixed(0)} MiB; ${Math.round(CHAIN / 4)} events: ${quarter.rssMiB.toFixed(0)} MiB)`,
  );
  console.log(
    `  verify-audit from the file   ${fmt(fromFile.rate)} events/s  (same chain; Postgres/file = ${(fromPg.rate / fromFile.rate).toFixed(2)})`,
  );
} finally {
  server.stop();
  rmSync(dir, { recursive: true, force: true });
}
