// A separate writer process for the concurrency tests and the benchmark: appends N events to a
// Postgres chain, one append per event, with a local key; MODE 'checkpoint' appends them unsigned
// from 8 concurrent appenders (group commit) and signs one checkpoint at the end. Usage: pg-writer URL KEY.pem KID N TAG [MODE]
import { readFileSync } from 'node:fs';
import { appendSignedEvents } from '../../src/audit/append.js';
import { appendUnsignedEvents, signCheckpoints } from '../../src/audit/checkpointing.js';
import { LocalKeySigner, loadPrivateKey } from '../../src/signing/signer.js';
import { PgAuditLog } from '../../src/store/pg-log.js';

const [url, keyFile, kid, count, tag, mode] = process.argv.slice(2);
const signer = new LocalKeySigner(kid!, loadPrivateKey(readFileSync(keyFile!, 'utf8'), keyFile!), keyFile!);
const store = new PgAuditLog({ url: url! });
const started = process.hrtime.bigint();
const event = (i: number) => ({ event_type: 'tool_call', actor_id: `writer-${tag}`, payload: { writer: tag, i } });
if (mode === 'checkpoint') {
  // A service appends for many requests at once: 8 concurrent appenders, one event each time;
  // the store's group commit turns what arrives together into one statement.
  const lanes = 8;
  await Promise.all(
    Array.from({ length: lanes }, async (_, lane) => {
      for (let i = lane; i < Number(count); i += lanes) await appendUnsignedEvents(store, [event(i)]);
    }),
  );
} else {
  for (let i = 0; i < Number(count); i++) await appendSignedEvents(store, signer, [event(i)]);
}
if (mode === 'checkpoint') await signCheckpoints(store, signer, { origin: 'agentkeys.local/bench' });
await store.close();
process.stdout.write(JSON.stringify({ events: Number(count), ms: Number(process.hrtime.bigint() - started) / 1e6 }));
