// One contract for both chain stores: the same calls give the same answers on a JSON Lines file
// and on a real PostgreSQL table (loopback), so a feature written against AuditStore works on both.
import { generateKeyPairSync } from 'node:crypto';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { appendSignedEvents } from '../../src/audit/append.js';
import { verifyChainSource } from '../../src/audit/verify-source.js';
import { applyMigrations, loadMigrations } from '../../src/db/migrate.js';
import { connectPg } from '../../src/db/pg.js';
import { isAgentkeysError } from '../../src/errors.js';
import { LocalKeySigner } from '../../src/signing/signer.js';
import { writeSignerRegistry } from '../../src/signing/registry.js';
import { exportChain } from '../../src/store/export.js';
import { openStore, type AuditStore } from '../../src/store/store.js';
import { createTestDatabase } from '../helpers/pg-db.js';
import { tempDir } from '../helpers/tmp.js';

const { privateKey, publicKey } = generateKeyPairSync('ed25519');
const signer = new LocalKeySigner('contract', privateKey, 'memory');

async function migratedUrl(): Promise<string> {
  const url = await createTestDatabase();
  const client = await connectPg({ url });
  try {
    await applyMigrations(client, await loadMigrations());
  } finally {
    await client.end();
  }
  return url;
}

const backends: [string, () => Promise<string>][] = [
  ['file', async () => path.join(tempDir(), 'audit.jsonl')],
  ['postgres', migratedUrl],
];

const events = (n: number, actor = 'a1') =>
  Array.from({ length: n }, (_, i) => ({ event_type: i % 2 ? 'tool_call' : 'login', actor_id: actor, payload: { i } }));

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

async function using<T>(log: string, fn: (s: AuditStore) => Promise<T>): Promise<T> {
  const store = openStore(log);
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

describe.each(backends)('AuditStore contract: %s', (kind, newLog) => {
  it('appends, reads the head, rows, chunks and queries the same chain', async () => {
    const log = await newLog();
    await using(log, async (store) => {
      expect(store.kind).toBe(kind);
      expect(await store.readHead()).toEqual({ prevHash: null, events: 0 });
      await appendSignedEvents(store, signer, events(3));
      const { head } = await appendSignedEvents(store, signer, events(2, 'a2'));
      expect(await store.readHead()).toEqual(head);
      expect(head.events).toBe(5);
      const rows = await collect(store.rows());
      expect(rows.map((r) => r.payload)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }, { i: 0 }, { i: 1 }]);
      const lines = (await collect(store.chunks())).reduce((n, c) => n + c.lines, 0);
      expect(lines).toBe(5);
      const q = await store.query({ agent: 'a2', limit: 10 });
      expect(q.events.map((e) => e.actor_id)).toEqual(['a2', 'a2']);
      expect((await store.query({ action: 'login', limit: 1 })).events).toHaveLength(1);
      expect((await store.describe()).forkedIds.size).toBe(0);
    });
  });

  it('a reader that stops early leaves the store usable (no open snapshot on a kept connection)', async () => {
    const log = await newLog();
    await using(log, async (store) => {
      await appendSignedEvents(store, signer, events(4));
      for await (const _row of store.rows()) break;
      const { head } = await appendSignedEvents(store, signer, events(1));
      expect(head.events).toBe(5);
      expect(await collect(store.rows())).toHaveLength(5);
    });
  });

  it('verifies through the store, and export copies to the other backend and back, all or nothing', async () => {
    const dir = tempDir();
    const signersPath = path.join(dir, 'signers.json');
    await writeSignerRegistry(signersPath, {
      signers: [
        {
          signerId: 'contract',
          algorithm: 'ed25519',
          publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
        },
      ],
    });
    const log = await newLog();
    const other = kind === 'file' ? await migratedUrl() : path.join(dir, 'copy.jsonl');
    await using(log, async (source) => {
      await appendSignedEvents(source, signer, events(7));
      const report = await verifyChainSource(source, { signersPath, hmacKeyFiles: {}, slackMs: 0, workers: 0 });
      expect(report).toMatchObject({ ok: true, events: 7 });
      await using(other, async (dest) => {
        const copied = await exportChain(source, dest);
        expect(copied).toMatchObject({ events: 7, firstBrokenLink: null, head: (await source.readHead()).prevHash });
        expect(await verifyChainSource(dest, { signersPath, hmacKeyFiles: {}, slackMs: 0, workers: 0 })).toMatchObject({
          ok: true,
          events: 7,
        });
        const again = await exportChain(source, dest).catch((err: unknown) => err);
        expect(isAgentkeysError(again) && again.code).toBe('EXPORT_DEST_NOT_EMPTY');
        expect(await collect(dest.rows())).toHaveLength(7);
      });
      const self = await exportChain(source, openStore(log)).catch((err: unknown) => err);
      expect(isAgentkeysError(self) && self.code).toBe('EXPORT_SAME_TARGET');
    });
  });
});
