// The one place that tells a file from a database: openStore.
import * as path from 'node:path';
import { isPostgresUrl } from '../db/pg.js';
import type { AuditStore, StoreOptions } from './audit-store.js';
import { FileAuditLog } from './file-log.js';
import { PgAuditLog } from './pg-log.js';

export type { AuditStore, RowSink, StoreOptions } from './audit-store.js';

/** LOG is a JSON Lines path or a postgres:// URL (many writers, one chain). */
export function openStore(log: string, opts: StoreOptions = {}): AuditStore {
  if (isPostgresUrl(log))
    return new PgAuditLog({
      url: log,
      ...(opts.statementTimeoutMs ? { statementTimeoutMs: opts.statementTimeoutMs } : {}),
    });
  return new FileAuditLog(log, path.resolve(log), opts);
}

export async function withStore<T>(
  log: string,
  opts: StoreOptions,
  use: (store: AuditStore) => Promise<T>,
): Promise<T> {
  const store = openStore(log, opts);
  try {
    return await use(store);
  } finally {
    await store.close();
  }
}
