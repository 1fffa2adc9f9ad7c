import { verifyChainSource, type VerifyAuditOptions, type VerifyAuditReport } from '../audit/verify-source.js';
import { withStore, type StoreOptions } from './store.js';

export type VerifyLogOptions = VerifyAuditOptions & { log: string } & Pick<StoreOptions, 'statementTimeoutMs'>;

/** verify-audit on a log named by path or URL: opens its store, verifies, closes. */
export async function verifyAuditLog(opts: VerifyLogOptions): Promise<VerifyAuditReport> {
  const { log, statementTimeoutMs, ...rest } = opts;
  return withStore(log, statementTimeoutMs ? { statementTimeoutMs } : {}, (store) => verifyChainSource(store, rest));
}
