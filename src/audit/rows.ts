import { connectPg, isPostgresUrl, type PgConnectOptions } from '../db/pg.js';
import { AgentkeysError, UsageError } from '../errors.js';
import { readLineChunks } from '../store/file-chunks.js';
import { inspectChain, streamChainRows } from '../store/pg-log.js';
import { parseRowLine, RowFormatError, type AuditRow } from './record.js';

export interface RowSourceOptions {
  /** Skip malformed file lines (queries) instead of failing (exports). */
  skipMalformed?: boolean;
  onMalformed?: (index: number, reason: string) => void;
  statementTimeoutMs?: number;
}

/** Every row of a chain in chain order, from a JSON Lines file or from audit_events. */
export async function* readRows(log: string, opts: RowSourceOptions = {}): AsyncGenerator<AuditRow> {
  if (isPostgresUrl(log)) {
    yield* readPgRows({ url: log, ...(opts.statementTimeoutMs ? { statementTimeoutMs: opts.statementTimeoutMs } : {}) });
    return;
  }
  yield* readFileRows(log, opts);
}

async function* readFileRows(file: string, opts: RowSourceOptions): AsyncGenerator<AuditRow> {
  let index = 0;
  try {
    for await (const chunk of readLineChunks(file)) {
      const lines = Buffer.from(chunk.bytes).toString('utf8').split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      for (const line of lines) {
        index++;
        try {
          yield parseRowLine(line);
        } catch (err) {
          if (!(err instanceof RowFormatError)) throw err;
          if (!opts.skipMalformed) throw new UsageError({ code: 'SOURCE_ROW_MALFORMED', message: `${file} event ${index}: ${err.message}`, hint: `see every problem with: agentkeys verify-audit --log ${file}` });
          opts.onMalformed?.(index, err.message);
        }
      }
    }
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new AgentkeysError({ code: 'LOG_NOT_FOUND', message: `cannot read log ${file}: ENOENT`, hint: 'check the --log path', cause: err });
    throw err;
  }
}

async function* readPgRows(conn: PgConnectOptions): AsyncGenerator<AuditRow> {
  const client = await connectPg(conn);
  try {
    const { sequenced } = await inspectChain(client);
    yield* streamChainRows(client, sequenced);
  } finally {
    await client.end().catch(() => undefined);
  }
}
