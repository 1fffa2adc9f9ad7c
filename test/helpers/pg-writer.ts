// A separate writer process for the concurrency tests and the benchmark: appends N events to a
// Postgres chain, one append per event, with a local key; MODE 'checkpoint' appends them unsigned
// and signs one checkpoint at the end. Usage: pg-writer URL KEY.pem KID N TAG [MODE]
import { readFileSync } from 'node:fs';
import { appendSignedEvents } from '../../src/audit/append.js';
import { appendUnsignedEvents, signCheckpoints } from '../../src/audit/checkpointing.js';
import { LocalKeySigner, loadPrivateKey } from '../../src/signing/signer.js';
import { PgAuditLog } from '../../src/store/pg-log.js';

const [url, keyFile, kid, count, tag, mode] = process.argv.slice(2);
const signer = new LocalKeySigner(kid!, loadPrivateKey(readFileSync(keyFile!, 'utf8'), keyFile!), keyFile!);
const store = new PgAuditLog({ url: url! });
if (process.env.PG_WRITER_BARRIER) {
  // The benchmark's start barrier: connected and ready, then wait for "go" on stdin, so that
  // process start-up and connecting are not counted as writing time.
  await store.readHead();
  process.stdout.write('ready\n');
  await new Promise((resolve) => process.stdin.once('data', resolve));
  process.stdin.pause();
}
const started = process.hrtime.bigint();
const event = (i: number) => ({ event_type: 'tool_call', actor_id: `writer-${tag}`, payload: { writer: tag, i } });
// A service appends for many requests at once: PG_WRITER_LANES concurrent appenders (default 8 in
// checkpoint mode, 1 per-row), one event each time; the store's group commit turns what arrives
// together into one transaction.
const lanes = Number(process.env.PG_WRITER_LANES ?? (mode === 'checkpoint' ? 8 : 1));
const appendOne = (i: number) =>
  mode === 'checkpoint' ? appendUnsignedEvents(store, [event(i)]) : appendSignedEvents(store, signer, [event(i)]);
await Promise.all(
  Array.from({ length: lanes }, async (_, lane) => {
    for (let i = lane; i < Number(count); i += lanes) await appendOne(i);
  }),
);
if (mode === 'checkpoint') await signCheckpoints(store, signer, { origin: 'agentkeys.local/bench' });
await store.close();
process.stdout.write(JSON.stringify({ events: Number(count), ms: Number(process.hrtime.bigint() - started) / 1e6 }));
