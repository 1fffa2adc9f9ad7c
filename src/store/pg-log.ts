import type pg from 'pg';
import type {
  AnchorWriter,
  ChainHead,
  ChainSourceInfo,
  CheckpointLog,
  CheckpointRecord,
  LineChunk,
  RowReadOptions,
  TreeState,
} from '../audit/chain.js';
import { assertQueryRange, type AuditQuery, type AuditQueryResult } from '../audit/query.js';
import { canonicalJson } from '../audit/canonical.js';
import { digestRow, newRowId, type AuditRow, type NewEvent } from '../audit/record.js';
import { InternalError } from '../errors.js';
import { connectPg, pgError, redactUrl, type PgConnectOptions } from '../db/pg.js';
import { UsageError } from '../errors.js';
import { readChosenAnchor } from './anchor-file.js';
import {
  assertEmpty,
  CHAIN_LOCK_KEY,
  countRows,
  digestOf,
  appendUnsignedInOneTrip,
  type UnsignedEventText,
  findForks,
  hasChainDigest,
  insertCheckpoint,
  insertRows,
  isSequenced,
  readCheckpointRecords,
  rowAtSeq,
  readCheckpointNotes,
  readHead,
  streamRowsAfter,
  selectRows,
  streamChainChunks,
  streamChainRows,
} from './pg-chain.js';
import { GroupCommit } from './group-commit.js';
import type { AuditStore, RowSink } from './audit-store.js';

/**
 * Agent Manager's audit_events table as a chain store. Writers take an advisory lock and read the
 * head and insert in one transaction, so many processes on many hosts make one linear chain; the
 * unique indexes of migration 0002 turn any writer that skips the lock into an error, not a fork.
 * One connection is opened on first use and kept until close().
 */
export class PgAuditLog implements AuditStore, CheckpointLog {
  readonly kind = 'postgres';
  readonly anchorPath = null;
  readonly identity: string;
  readonly label: string;
  private client: Promise<pg.Client> | undefined;

  constructor(private readonly conn: PgConnectOptions) {
    this.identity = conn.url;
    this.label = redactUrl(conn.url);
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await (await client).end().catch(() => undefined);
  }

  /**
   * Concurrent appends of this process share one transaction (group commit): one lock, one head
   * read, each caller's rows built in turn on the head the previous one left, one INSERT, one
   * COMMIT. A caller whose build throws gets its own error and adds nothing; the others go on.
   */
  async append(build: (head: ChainHead) => Promise<AuditRow[]>, _anchor?: AnchorWriter): Promise<ChainHead> {
    const [outcome] = await this.appendGroup.submit([build]);
    if ('error' in outcome!) throw outcome.error;
    return outcome.head;
  }

  private readonly appendGroup = new GroupCommit<Build, { head: ChainHead } | { error: unknown }>((builds) =>
    this.appendTogether(builds),
  );

  private async appendTogether(builds: Build[]): Promise<({ head: ChainHead } | { error: unknown })[]> {
    return this.withClient(async (client) => {
      await client.query('BEGIN');
      try {
        await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK_KEY]);
        const start = await readHead(client);
        let head = start;
        const rows: AuditRow[] = [];
        const outcomes: ({ head: ChainHead } | { error: unknown })[] = [];
        for (const build of builds) {
          try {
            const built = await build(head);
            if (built.length > 0)
              head = { prevHash: digestOf(built[built.length - 1]!), events: head.events + built.length };
            rows.push(...built);
            outcomes.push({ head });
          } catch (error) {
            outcomes.push({ error: pgError(error, 'appending to audit_events') });
          }
        }
        await insertRows(client, rows, start.events + 1, await this.withDigest(client));
        await client.query('COMMIT');
        return outcomes;
      } catch (err) {
        await client.query('ROLLBACK').catch(() => undefined);
        throw pgError(err, 'appending to audit_events');
      }
    });
  }

  async readHead(): Promise<ChainHead> {
    return this.withClient((client) =>
      readHead(client).catch((err) => Promise.reject(pgError(err, 'reading the chain head'))),
    );
  }

  async headDigest(): Promise<string | null> {
    return (await this.readHead()).prevHash;
  }

  async describe(): Promise<ChainSourceInfo> {
    return this.withClient(async (client) => {
      try {
        const forkedIds = await findForks(client, await this.sequenced(client));
        return { sizeBytes: 0, rowCount: await countRows(client), forkedIds };
      } catch (err) {
        throw pgError(err, `reading ${this.label}`);
      }
    });
  }

  async *chunks(): AsyncGenerator<LineChunk> {
    yield* streamChainChunks(this.pages());
  }

  async *rows(_opts: RowReadOptions = {}): AsyncGenerator<AuditRow> {
    for await (const page of this.pages()) yield* page;
  }

  readAnchor(choice?: string | false) {
    return readChosenAnchor(choice, null);
  }

  /** Checkpoints live in agentkeys_audit_checkpoints (migration 0004); an unmigrated database has none. */
  readCheckpoints(): Promise<string[]> {
    return this.withClient((client) =>
      readCheckpointNotes(client).catch((err) => Promise.reject(pgError(err, 'reading checkpoints'))),
    );
  }

  checkpointRecords(opts: { newest?: number } = {}): Promise<CheckpointRecord[]> {
    return this.withClient((client) =>
      readCheckpointRecords(client, opts.newest).catch((err) => Promise.reject(pgError(err, 'reading checkpoints'))),
    );
  }

  rowEndingAt(position: number): Promise<AuditRow | undefined> {
    return this.withClient((client) =>
      rowAtSeq(client, position).catch((err) => Promise.reject(pgError(err, 'reading audit_events'))),
    );
  }

  async *rowsAfter(from: { position: number } | undefined): AsyncGenerator<{ row: AuditRow; position: number }> {
    const client = await this.connection();
    if (!(await this.sequenced(client))) {
      throw new UsageError({
        code: 'CHECKPOINT_STORE_UNSUPPORTED',
        message: `${this.label} has no chain_seq column: checkpoint mode needs the migrated table`,
        hint: `agentkeys db migrate --database-url ${this.label}`,
      });
    }
    yield* streamRowsAfter(client, from?.position ?? 0);
  }

  appendCheckpoint(state: TreeState, note: string): Promise<void> {
    return this.withClient((client) =>
      insertCheckpoint(client, state, note).catch((err) => Promise.reject(pgError(err, 'writing a checkpoint'))),
    );
  }

  async query(q: AuditQuery): Promise<AuditQueryResult> {
    assertQueryRange(q);
    return this.withClient(async (client) => {
      try {
        return { events: await selectRows(client, await this.sequenced(client), q), skippedMalformed: 0 };
      } catch (err) {
        throw pgError(err, 'querying audit_events');
      }
    });
  }

  /** The whole export is one transaction under the chain lock: all rows land, or none. */
  async openSink(): Promise<RowSink> {
    const client = await this.connection();
    let next = 1;
    let withDigest = false;
    try {
      await client.query('BEGIN');
      await client.query('SELECT pg_advisory_xact_lock($1)', [CHAIN_LOCK_KEY]);
      await assertEmpty(client);
      withDigest = await this.withDigest(client);
    } catch (err) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw pgError(err, 'preparing the export destination');
    }
    return {
      write: async (rows) => {
        await insertRows(client, rows, next, withDigest).catch((err) =>
          Promise.reject(pgError(err, 'writing audit_events')),
        );
        next += rows.length;
      },
      commit: async () => {
        await client.query('COMMIT');
      },
      abort: async () => {
        await client.query('ROLLBACK').catch(() => undefined);
      },
    };
  }

  /** A database keeps no anchor file: its chain_seq and unique indexes do that job. */
  async signAnchor(): Promise<boolean> {
    return false;
  }

  async copyAnchor(): Promise<boolean> {
    return false;
  }

  /**
   * Checkpoint mode in one round trip: the database links the events under the chain lock
   * (migration 0005). A head it cannot link to (written by another tool), or a database without
   * the function, takes the ordinary append, which records chain_digest for the next one.
   */
  async appendUnsigned(events: readonly NewEvent[], now: () => Date): Promise<{ rows: AuditRow[]; head: ChainHead }> {
    const items = events.map((event) => ({ event, text: eventText(event, now) }));
    const written = await this.unsignedGroup.submit(items);
    const last = written[written.length - 1];
    const rows = written.map((w) => w.row);
    if (!last) return { rows, head: await this.readHead() };
    return {
      rows,
      head: { prevHash: digestRow(last.row.payload, last.row.prev_hash).digest.toString('hex'), events: last.seq },
    };
  }

  // Concurrent checkpoint-mode appends of this process share one statement (group commit).
  private readonly unsignedGroup = new GroupCommit<
    { event: NewEvent; text: UnsignedEventText },
    { row: AuditRow; seq: number }
  >((items) => this.writeUnsigned(items));

  private async writeUnsigned(items: UnsignedItem[]): Promise<{ row: AuditRow; seq: number }[]> {
    const done = await this.withClient((client) =>
      appendUnsignedInOneTrip(
        client,
        items.map((i) => i.text),
      ).catch((err) => Promise.reject(pgError(err, 'appending to audit_events'))),
    );
    if (done === 'fallback') {
      let rows: AuditRow[] = [];
      const head = await this.append(async (current) => (rows = linkItems(items, current.prevHash).rows));
      return rows.map((row, i) => ({ row, seq: head.events - rows.length + 1 + i }));
    }
    const { rows, end } = linkItems(items, done.startDigest);
    if (end !== done.endDigest) {
      throw new InternalError({
        code: 'PG_DIGEST_MISMATCH',
        message: `the database linked the events to ${done.endDigest}, agentkeys computes ${end}`,
      });
    }
    return rows.map((row, i) => ({ row, seq: done.endSeq - rows.length + 1 + i }));
  }

  private digestCache: boolean | undefined;

  private async withDigest(client: pg.Client): Promise<boolean> {
    this.digestCache ??= await hasChainDigest(client);
    return this.digestCache;
  }

  // Migration adds chain_seq once; a store asks once.
  private sequencedCache: boolean | undefined;

  private async sequenced(client: pg.Client): Promise<boolean> {
    this.sequencedCache ??= await isSequenced(client);
    return this.sequencedCache;
  }

  private async *pages(): AsyncGenerator<AuditRow[]> {
    const client = await this.connection();
    const sequenced = await this.sequenced(client).catch((err) =>
      Promise.reject(pgError(err, `reading ${this.label}`)),
    );
    yield* streamChainRows(client, sequenced);
  }

  private async connection(): Promise<pg.Client> {
    this.client ??= connectPg(this.conn);
    try {
      return await this.client;
    } catch (err) {
      this.client = undefined;
      throw err;
    }
  }

  private async withClient<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
    const client = await this.connection();
    try {
      return await fn(client);
    } catch (err) {
      // A failed connection is not reused; the next call opens a fresh one.
      await this.close();
      throw err;
    }
  }
}

function eventText(e: NewEvent, now: () => Date): UnsignedEventText {
  return {
    id: newRowId(),
    actor_id: e.actor_id,
    event_type: e.event_type,
    canonical: canonicalJson(e.payload),
    created_at: now().toISOString(),
  };
}

type Build = (head: ChainHead) => Promise<AuditRow[]>;

interface UnsignedItem {
  event: NewEvent;
  text: UnsignedEventText;
}

/** The rows of the items linked from `start`, as the database links them. */
function linkItems(items: readonly UnsignedItem[], start: string | null): { rows: AuditRow[]; end: string | null } {
  let prev = start;
  const rows = items.map(({ event, text }) => {
    const { id, actor_id, event_type, created_at } = text;
    const row: AuditRow = {
      id,
      actor_id,
      event_type,
      payload: event.payload,
      signature: null,
      signer_kid: null,
      prev_hash: prev,
      created_at,
    };
    prev = digestRow(row.payload, prev).digest.toString('hex');
    return row;
  });
  return { rows, end: prev };
}
