import { UsageError } from '../errors.js';
import { FileAuditLog, type AuditAppender } from './file-log.js';

/** LOG is a JSON Lines path (the embedded default) or, later, a postgres:// URL. */
export function openAppender(log: string): AuditAppender {
  if (/^postgres(ql)?:\/\//.test(log)) {
    throw new UsageError({ code: 'STORE_UNAVAILABLE', message: 'the PostgreSQL audit store is not available in this build yet', hint: 'use a JSON Lines file for --log' });
  }
  return new FileAuditLog(log);
}
