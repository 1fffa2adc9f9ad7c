import { promises as fsp } from 'node:fs';
import * as path from 'node:path';
import { once } from 'node:events';
import { assertParentDirExists, openAtomicFile } from '../sys/fs.js';
import type pg from 'pg';
import { connectPg, isPostgresUrl, pgError } from '../db/pg.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { readLastLine } from '../store/file-log.js';
import { insertRows, PgAuditLog } from '../store/pg-log.js';
import { digestRow, parseRowLine, serializeRow, type AuditRow } from './record.js';
import { readRows } from './rows.js';

export interface ExportResult {
  events: number;
  /** Digest of the last event, computed on the source and read back from the destination. */
  head: string | null;
  /** The first event whose link is broken (1-based), or null: a copy of a broken chain is still broken. */
  firstBrokenLink: number | null;
}

/** Where exported rows go: all of them, or (on any failure) none. */
interface RowSink {
  write(rows: AuditRow[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

const BATCH = 1000;

/**
 * Copies a chain between a JSON Lines file and Postgres (either way) unchanged, in chain order.
 * The destination must be empty; the head digest is read back from it and must equal the source's.
 */
export async function exportChain(source: string, dest: string, statementTimeoutMs?: number): Promise<ExportResult> {
  if (path.resolve(source) === path.resolve(dest) || source === dest) throw new UsageError({ code: 'EXPORT_SAME_TARGET', message: 'source and destination are the same', hint: 'name a different --out' });
  if (!isPostgresUrl(dest)) await assertParentDirExists(dest, '--out');
  const sink = isPostgresUrl(dest) ? await openPgSink(dest, statementTimeoutMs) : await openFileSink(dest);
  let events = 0;
  let head: string | null = null;
  let firstBrokenLink: number | null = null;
  try {
    let batch: AuditRow[] = [];
    for await (const row of readRows(source, statementTimeoutMs ? { statementTimeoutMs } : {})) {
      batch.push(row);
      events++;
      // Rows are copied as they are (evidence), but a broken link is reported, never a clean copy.
      if (firstBrokenLink === null && row.prev_hash !== head) firstBrokenLink = events;
      head = digestRow(row.payload, row.prev_hash).digest.toString('hex');
      if (batch.length >= BATCH) {
        await sink.write(batch);
        batch = [];
      }
    }
    if (batch.length > 0) await sink.write(batch);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
  const readBack = await readDestinationHead(dest, statementTimeoutMs);
  if (readBack !== head) {
    throw new AgentkeysError({ code: 'EXPORT_HEAD_MISMATCH', message: `the destination's head is ${readBack ?? 'empty'} but the source's is ${head ?? 'empty'}`, hint: 'verify both sides with agentkeys verify-audit' });
  }
  return { events, head, firstBrokenLink };
}

async function readDestinationHead(dest: string, statementTimeoutMs?: number): Promise<string | null> {
  if (isPostgresUrl(dest)) {
    const store = new PgAuditLog({ url: dest, ...(statementTimeoutMs ? { statementTimeoutMs } : {}) });
    try {
      return (await store.readHead()).prevHash;
    } finally {
      await store.close();
    }
  }
  const last = await readLastLine(dest);
  if (last === undefined) return null;
  const row = parseRowLine(last);
  return digestRow(row.payload, row.prev_hash).digest.toString('hex');
}

async function openFileSink(dest: string): Promise<RowSink> {
  const existing = await fsp.stat(dest).catch(() => undefined);
  if (existing && existing.size > 0) throw new UsageError({ code: 'EXPORT_DEST_NOT_EMPTY', message: `${dest} already exists and is not empty`, hint: 'export into a new file; agentkeys never merges two chains' });
  const out = await openAtomicFile(dest);
  return {
    write: async (rows) => {
      if (!out.stream.write(rows.map((r) => `${serializeRow(r)}\n`).join(''))) await once(out.stream, 'drain');
    },
    commit: () => out.commit(),
    abort: () => out.abort(),
  };
}

async function openPgSink(url: string, statementTimeoutMs?: number): Promise<RowSink> {
  const client = await connectPg({ url, ...(statementTimeoutMs ? { statementTimeoutMs } : {}) });
  let next = 1;
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [0x61676b63]);
    await assertEmpty(client);
  } catch (err) {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end().catch(() => undefined);
    throw pgError(err, 'preparing the export destination');
  }
  return {
    write: async (rows) => {
      await insertRows(client, rows, next).catch((err) => Promise.reject(pgError(err, 'writing audit_events')));
      next += rows.length;
    },
    commit: async () => {
      await client.query('COMMIT');
      await client.end();
    },
    abort: async () => {
      await client.query('ROLLBACK').catch(() => undefined);
      await client.end().catch(() => undefined);
    },
  };
}

async function assertEmpty(client: pg.Client): Promise<void> {
  const { rowCount } = await client.query('SELECT 1 FROM audit_events LIMIT 1');
  if (rowCount) throw new UsageError({ code: 'EXPORT_DEST_NOT_EMPTY', message: 'the destination audit_events table is not empty', hint: 'export into an empty database; agentkeys never merges two chains' });
}

