// A separate writer process for the concurrency tests and the benchmark: appends N events to a
// Postgres chain, one append per event, with a local key; MODE 'checkpoint' appends them unsigned
// and signs one checkpoint at the end; MODE 'agent-manager' is the benchmark's baseline, Agent
// Manager's own writer (agent-manager-audit-format.md §4): the head read with no lock and no
// transaction, then an insert, so concurrent writers fork the chain.
// Usage: pg-writer URL KEY.pem KID N TAG [MODE]
import { sign } from 'node:crypto';
import { readFileSync } from 'node:fs';
import pg from 'pg';
import type { JsonValue } from '../../src/audit/canonical.js';
import { digestRow } from '../../src/audit/record.js';
import { appendSignedEvents } from '../../src/audit/append.js';
import { appendUnsignedEvents } from '../../src/audit/checkpointing.js';
import { CheckpointWriter } from '../../src/audit/checkpoint-writer.js';
import { writerKeyOf } from '../../src/audit/writer-trust.js';
import { LocalKeySigner, loadPrivateKey } from '../../src/signing/signer.js';
import { PgAuditLog } from '../../src/store/pg-log.js';

const [url, keyFile, kid, count, tag, mode] = process.argv.slice(2);
const privateKey = loadPrivateKey(readFileSync(keyFile!, 'utf8'), keyFile!);
const signer = new LocalKeySigner(kid!, privateKey, keyFile!);
const lanes = Number(process.env.PG_WRITER_LANES ?? (mode === 'checkpoint' ? 8 : 1));
const agentManager = mode === 'agent-manager' ? new pg.Pool({ connectionString: url!, max: lanes }) : undefined;
const store = new PgAuditLog({ url: url! });
if (process.env.PG_WRITER_BARRIER) {
  // The benchmark's start barrier: connected and ready, then wait for "go" on stdin, so that
  // process start-up and connecting are not counted as writing time.
  await (agentManager ? agentManager.query('SELECT 1') : store.readHead());
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
}
const started = process.hrtime.bigint();
const event = (i: number) => ({ event_type: 'tool_call', actor_id: `writer-${tag}`, payload: { writer: tag, i } });
// A service appends for many requests at once: PG_WRITER_LANES concurrent appenders (default 8 in
// checkpoint mode, 1 per-row), one event each time; the store's group commit turns what arrives
// together into one transaction.
// Checkpoint mode: the writer proves the table before the clock starts counting appends, and its
// checkpoint at the end answers for this process's own events.
const writer =
  mode === 'checkpoint'
    ? await CheckpointWriter.open(
        store,
        signer,
        { origin: 'agentkeys.local/bench' },
        {
          keyOf: await writerKeyOf(signer, undefined),
          label: 'bench',
        },
      )
    : undefined;
const appendOne = async (i: number) => {
  if (agentManager) return appendAsAgentManager(agentManager, event(i));
  if (!writer) return void (await appendSignedEvents(store, signer, [event(i)]));
  writer.appended((await appendUnsignedEvents(store, [event(i)])).rows);
};

/** createSignedAuditEvent, as Agent Manager runs it: prev_hash recomputed from the newest stored row. */
async function appendAsAgentManager(
  db: pg.Pool,
  e: { event_type: string; actor_id: string; payload: JsonValue },
): Promise<void> {
  const last = await db.query<{ payload: JsonValue; prev_hash: string | null }>(
    'SELECT payload, prev_hash FROM audit_events ORDER BY created_at DESC LIMIT 1',
  );
  const row = last.rows[0];
  const prev = row ? digestRow(row.payload, row.prev_hash).digest.toString('hex') : null;
  const { digest } = digestRow(e.payload, prev);
  const signature = sign(null, digest, privateKey).toString('base64');
  await db.query(
    'INSERT INTO audit_events (actor_id, event_type, payload, signature, signer_kid, prev_hash) VALUES ($1, $2, $3, $4, $5, $6)',
    [e.actor_id, e.event_type, JSON.stringify(e.payload), signature, kid, prev],
  );
}
await Promise.all(
  Array.from({ length: lanes }, async (_, lane) => {
    for (let i = lane; i < Number(count); i += lanes) await appendOne(i);
  }),
);
await writer?.sign();
await store.close();
await agentManager?.end();
process.stdout.write(JSON.stringify({ events: Number(count), ms: Number(process.hrtime.bigint() - started) / 1e6 }));
