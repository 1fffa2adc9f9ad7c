// The store interface every command and core module uses; src/store/file-log.ts and pg-log.ts
// implement it, and store.ts (openStore) picks one. Types only: nothing here imports a store.
import type { ChainAppender, ChainHead, ChainSource, CheckpointLog } from '../audit/chain.js';
import type { AuditQuery, AuditQueryResult } from '../audit/query.js';
import type { AuditRow } from '../audit/record.js';
import type { AuditSigner } from '../signing/signer.js';

/** Where exported rows go: all of them, or (on any failure) none. */
export interface RowSink {
  write(rows: AuditRow[]): Promise<void>;
  commit(): Promise<void>;
  abort(): Promise<void>;
}

/**
 * Every read and write of a chain: a JSON Lines file (the embedded default) or Agent Manager's
 * table, checkpoint mode included (the file keeps its checkpoints beside it, Postgres in a table).
 */
export interface AuditStore extends ChainAppender, ChainSource, CheckpointLog {
  readonly kind: 'file' | 'postgres';
  /** A resolved path or the URL itself: two stores with the same identity are the same chain. */
  readonly identity: string;
  /** Where this store keeps its signed anchor; null for a database (it has none). */
  readonly anchorPath: string | null;
  readHead(): Promise<ChainHead>;
  /** The head's digest alone: no event count (which can cost a file scan when no anchor matches). */
  headDigest(): Promise<string | null>;
  /** Newest first, with the same filters and the same result on either store. */
  query(q: AuditQuery): Promise<AuditQueryResult>;
  /** A destination for an export; refuses a chain that is not empty. */
  openSink(): Promise<RowSink>;
  /** Writes an anchor for this chain, signed or copied as text; false when the store keeps none. */
  signAnchor(head: ChainHead, signer: AuditSigner): Promise<boolean>;
  copyAnchor(text: string): Promise<boolean>;
  /** Releases connections held between calls. */
  close(): Promise<void>;
}

export interface StoreOptions {
  statementTimeoutMs?: number;
  /** Told once when another writer holds the file lock and this one starts waiting. */
  onWait?: () => void;
  /** A per-row writer takes a file log that has events but no anchor (written by another tool). */
  adopt?: boolean;
  /** Write a file log that is a symlink (--follow-symlinks). */
  followSymlinks?: boolean;
  /** When the file lock counts as abandoned (AGENTKEYS_LOCK_STALE_MS). */
  lockStaleMs?: number;
}
