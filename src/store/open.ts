import type { AgentkeysConfig } from '../config/load.js';
import { isPostgresUrl } from '../db/pg.js';
import { FileAuditLog, type AuditAppender } from './file-log.js';
import { PgAuditLog } from './pg-log.js';

/** LOG is a JSON Lines path (the embedded default) or a postgres:// URL (many writers, one chain). */
export function openAppender(log: string, config: Pick<AgentkeysConfig, 'pgStatementTimeoutMs'>, onWait?: () => void): AuditAppender {
  if (isPostgresUrl(log)) return new PgAuditLog({ url: log, statementTimeoutMs: config.pgStatementTimeoutMs });
  return new FileAuditLog(log, onWait);
}
