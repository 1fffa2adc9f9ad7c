// The chain's ports: what the format code (append, verify) needs from a store, as interfaces the
// stores in src/store implement. src/audit depends on these, never on a store itself.
import type { AuditSigner } from '../signing/signer.js';
import type { AuditRow } from './record.js';

export interface ChainHead {
  /** Hex digest of the last event, null for an empty chain. */
  prevHash: string | null;
  events: number;
}

export interface LineChunk {
  bytes: Uint8Array;
  /** Number of lines in bytes (a final line without newline counts). */
  lines: number;
}

/** A chunk built from already-split lines (rows read from a database). */
export function linesToChunk(lines: readonly string[]): LineChunk {
  const bytes = new Uint8Array(Buffer.from(`${lines.join('\n')}\n`, 'utf8'));
  return { bytes, lines: lines.length };
}

/** Anything that appends to a chain under a writer lock. */
export interface ChainAppender {
  /** Calls build with the current head while holding the lock; writes all rows it returns or none. */
  append(build: (head: ChainHead) => Promise<AuditRow[]>, anchorSigner: AuditSigner): Promise<ChainHead>;
}

export interface RowReadOptions {
  /** Skip malformed file lines (queries, scans) instead of failing (exports). */
  skipMalformed?: boolean;
  onMalformed?: (index: number, reason: string) => void;
}

export interface ChainSourceInfo {
  /** Bytes of a file (for progress and the worker count); 0 for a database. */
  sizeBytes: number;
  /** Rows of a database, known before reading; undefined for a file. */
  rowCount: number | undefined;
  /** Ids of rows that share a prev_hash with an earlier row (found by the store, e.g. in SQL). */
  forkedIds: Set<string>;
}

/** What verification reads: the chain as chunks of JSON Lines, as rows, and its anchor. */
export interface ChainSource {
  /** The log as it may be shown (a database URL without its password). */
  readonly label: string;
  describe(): Promise<ChainSourceInfo>;
  chunks(): AsyncIterable<LineChunk>;
  rows(opts?: RowReadOptions): AsyncIterable<AuditRow>;
  /** The anchor file: a given path, the store's own (undefined), or none (false). */
  readAnchor(choice?: string | false): Promise<{ path: string; text: string } | undefined>;
}
