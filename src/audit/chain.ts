// The chain's ports: what the format code (append, verify) needs from a store, as interfaces the
// stores in src/store implement. src/audit depends on these, never on a store itself.
import type { AuditSigner } from '../signing/signer.js';
import type { VerificationKey } from '../signing/verify.js';
import type { CompactRangeData } from './merkle.js';
import type { AuditRow, NewEvent } from './record.js';
import type { LineChunk, SpareBuffers } from './line-chunks.js';

export type { LineChunk } from './line-chunks.js';

export interface ChainHead {
  /** Hex digest of the last event, null for an empty chain. */
  prevHash: string | null;
  events: number;
}

/**
 * A per-row writer's anchor duty: the signer of the new anchor, and the keys it trusts when it
 * checks the anchor already there (the log must extend it before anything is appended).
 */
export interface AnchorWriter {
  signer: AuditSigner;
  keyOf?: (kid: string) => VerificationKey | undefined;
  /** Anchors a witness holds for this log: the log must hold the newest of them too. */
  witnessed?: readonly string[];
  /** How often the anchor is re-signed; default: on every append. */
  policy?: { every?: number; intervalMs?: number };
}

/** Anything that appends to a chain under a writer lock. */
export interface ChainAppender {
  /**
   * Calls build with the current head while holding the lock; writes all rows it returns or none.
   * With an anchor writer, a store that keeps an anchor first proves the log extends the signed
   * one (LOG_DIVERGED otherwise) and re-signs it after; without one (checkpoint mode) nothing is
   * signed inside the lock.
   */
  append(build: (head: ChainHead) => Promise<AuditRow[]>, anchor?: AnchorWriter): Promise<ChainHead>;
  /**
   * Checkpoint mode's append, where a store can do it faster than append(): unsigned events,
   * linked by the store itself (Postgres: one statement).
   */
  appendUnsigned?(events: readonly NewEvent[], now: () => Date): Promise<{ rows: AuditRow[]; head: ChainHead }>;
}

/** Where a checkpoint left the tree: a writer's hint, proven against the signed root before use. */
export interface TreeState {
  size: number;
  /** Where the event after `size` starts: a byte offset in a file, a row count in a database. */
  position: number;
  range: CompactRangeData;
  /** The tree one event shorter: with the event ending at `position`, it proves where the tree ends. */
  prior?: CompactRangeData;
  /** When its checkpoint was written, where the store knows (a writer's hint, like the rest). */
  signedAt?: Date;
}

/** One checkpoint as a store keeps it: the signed note, and the unsigned hint beside it. */
export interface CheckpointRecord {
  note: string;
  state: TreeState | undefined;
}

/** The checkpoints kept beside a chain (checkpoint mode). */
export interface CheckpointLog {
  /**
   * Checkpoint records, hints unverified (a file line that is no record comes as its note): all
   * of them, or with `newest` about that many of the most recent (a file's tail, a table's largest).
   */
  checkpointRecords(opts?: { newest?: number }): Promise<CheckpointRecord[]>;
  /** The event whose line (file) or chain_seq (database) ends at this position; undefined if none. */
  rowEndingAt(position: number): Promise<AuditRow | undefined>;
  /** The complete events after a position (all of them without one), each with the position after it. */
  rowsAfter(from: { position: number } | undefined): AsyncIterable<{ row: AuditRow; position: number }>;
  appendCheckpoint(state: TreeState, note: string): Promise<void>;
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
  /** `spare`: buffers to read into again (a source that does not read into buffers ignores it). */
  chunks(spare?: SpareBuffers): AsyncIterable<LineChunk>;
  rows(opts?: RowReadOptions): AsyncIterable<AuditRow>;
  /** The anchor file: a given path, the store's own (undefined), or none (false). */
  readAnchor(choice?: string | false): Promise<{ path: string; text: string } | undefined>;
  /** Every checkpoint note kept for this chain, in the order written (empty: not in checkpoint mode). */
  readCheckpoints(): Promise<string[]>;
}
