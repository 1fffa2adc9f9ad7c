import { hash, randomUUID } from 'node:crypto';
import { canonicalJson, isDigestHex, type JsonValue } from './canonical.js';
import type { BinaryHash } from './merkle.js';
import { messageOf } from '../sys/operator-file.js';

/**
 * One audit event: the columns of Agent Manager's audit_events table, in its column order, so a
 * row moves between Postgres and a JSON Lines file unchanged (product.md).
 */
export interface AuditRow {
  id: string;
  actor_id: string | null;
  event_type: string;
  payload: JsonValue;
  signature: string | null;
  signer_kid: string | null;
  prev_hash: string | null;
  created_at: string;
}

export interface NewEvent {
  event_type: string;
  actor_id: string | null;
  payload: JsonValue;
}

const ROW_FIELDS = [
  'id',
  'actor_id',
  'event_type',
  'payload',
  'signature',
  'signer_kid',
  'prev_hash',
  'created_at',
] as const;
const ROW_FIELD_SET = new Set<string>(ROW_FIELDS);

/** Why a line is not a row; becomes a finding of its code (MALFORMED_ROW unless more specific). */
export class RowFormatError extends Error {
  constructor(
    message: string,
    readonly code: 'MALFORMED_ROW' | 'LINE_TOO_LONG' | 'TOO_DEEP' | 'DUPLICATE_MEMBER' = 'MALFORMED_ROW',
  ) {
    super(message);
  }
}

/** Lines past this are skipped unread by the readers, which put OVERLONG_LINE_MARK and the size in their place. */
export const MAX_LINE_BYTES = 16 << 20;
/** A NUL starts no JSON text: a line beginning with it is never a row, whoever wrote it. */
export const OVERLONG_LINE_MARK = '\u0000line too long: ';

/** Nesting past this is refused before anything recursive walks it. */
export const MAX_ROW_DEPTH = 256;

/**
 * Parses one log line. The line is attacker-controlled: anything unexpected is a RowFormatError
 * naming the field, never an uncaught exception.
 */
export function parseRowLine(line: string, expectedPrev?: string): AuditRow {
  if (line.startsWith(OVERLONG_LINE_MARK))
    throw new RowFormatError(
      `a line of ${line.slice(OVERLONG_LINE_MARK.length)} bytes, over the ${MAX_LINE_BYTES} a row may have: ` +
        'skipped unread',
      'LINE_TOO_LONG',
    );
  if (line.trim() === '') throw new RowFormatError('empty line');
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch (err) {
    throw new RowFormatError(`not JSON: ${printable(messageOf(err).slice(0, 200))}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new RowFormatError('not a JSON object');
  const members = countMembers(value);
  if (members < 0) throw new RowFormatError(`nested deeper than ${MAX_ROW_DEPTH} levels`, 'TOO_DEEP');
  if (members !== countMemberNames(line, members))
    throw new RowFormatError(
      'a member name appears twice in one object: JSON.parse keeps the last, another reader the first',
      'DUPLICATE_MEMBER',
    );
  return checkRowFields(value as Record<string, unknown>, expectedPrev);
}

/** Every object member in a parsed value, or -1 when it nests deeper than MAX_ROW_DEPTH. */
function countMembers(value: unknown, depth = 0): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (depth >= MAX_ROW_DEPTH) return -1;
  let n = 0;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const c = countMembers(value[i], depth + 1);
      if (c < 0) return -1;
      n += c;
    }
    return n;
  }
  for (const key in value) {
    const c = countMembers((value as Record<string, unknown>)[key], depth + 1);
    if (c < 0) return -1;
    n += c + 1;
  }
  return n;
}

// Every string token of the text: after each match the scan resumes past the whole string, so
// the next quote found always opens one (escaped quotes never desync it).
const STRING_TOKEN = /"(?:[^"\\]|\\.)*"/g;

/**
 * Member names in the source text. JSON.parse keeps one value per name, so a text with a name
 * twice in one object has more names than the parsed value has members: no second parser needed.
 * Without a backslash every quote delimits a string, so `":` ends a member name and nothing else
 * (the rows agentkeys writes: a memchr-speed count). Otherwise, or with space before a colon, the
 * strings are cut out and the colons left are counted: in valid JSON those separate names from values.
 */
function countMemberNames(text: string, expected: number): number {
  if (text.indexOf('\\') === -1) {
    let n = 0;
    for (let at = text.indexOf('":'); at !== -1; at = text.indexOf('":', at + 2)) n++;
    if (n === expected) return n;
  }
  const bare = text.replace(STRING_TOKEN, '');
  let n = 0;
  for (let at = bare.indexOf(':'); at !== -1; at = bare.indexOf(':', at + 1)) n++;
  return n;
}

/** expectedPrev: a digest the caller computed; a prev_hash equal to it needs no format check. */
export function checkRowFields(row: Record<string, unknown>, expectedPrev?: string): AuditRow {
  // A loop, not Object.keys(): no array per row on the verifier's hot path.
  for (const key in row) if (!ROW_FIELD_SET.has(key)) throw unknownFields(row);
  if (!('payload' in row)) throw new RowFormatError('no payload field');
  requireString(row, 'id');
  requireString(row, 'event_type');
  requireString(row, 'created_at');
  requireStringOrNull(row, 'actor_id');
  requireStringOrNull(row, 'signature');
  requireStringOrNull(row, 'signer_kid');
  requireStringOrNull(row, 'prev_hash');
  if (row.prev_hash !== null && row.prev_hash !== expectedPrev && !isDigestHex(row.prev_hash)) {
    throw new RowFormatError('prev_hash is not null or 64 lowercase hex characters');
  }
  return row as unknown as AuditRow;
}

function unknownFields(row: Record<string, unknown>): RowFormatError {
  return new RowFormatError(
    `unknown field(s) ${Object.keys(row)
      .filter((k) => !ROW_FIELD_SET.has(k))
      .join(', ')}`,
  );
}

function requireString(row: Record<string, unknown>, field: string): void {
  if (typeof row[field] !== 'string') throw new RowFormatError(`${field} must be a string`);
}

function requireStringOrNull(row: Record<string, unknown>, field: string): void {
  const v = row[field];
  if (v !== null && typeof v !== 'string') throw new RowFormatError(`${field} must be a string or null`);
}

/**
 * Serialises a row as one JSON line in the table's column order, its payload in canonical form:
 * the bytes the digest covers stand in the line as they are hashed, and the verifier's fast path
 * (canonicalJson) applies to every row read back.
 */
export function serializeRow(row: AuditRow): string {
  const s = JSON.stringify;
  return (
    `{"id":${s(row.id)},"actor_id":${s(row.actor_id)},"event_type":${s(row.event_type)},` +
    `"payload":${canonicalJson(row.payload)},"signature":${s(row.signature)},"signer_kid":${s(row.signer_kid)},` +
    `"prev_hash":${s(row.prev_hash)},"created_at":${s(row.created_at)}}`
  );
}

export interface RowDigest {
  message: Buffer;
  digest: Buffer;
}

/** The bytes a row's signature covers, recomputed from the row itself (never read from it). */
/**
 * digest = SHA-256( UTF-8(canonical(payload)) || hexdecode(prev_hash) ), prev_hash null for genesis.
 * The 32 raw bytes are appended, not the hex text (docs/audit-format.md §4).
 */
export function digestRow(payload: JsonValue, prevHash: string | null): RowDigest {
  const canonical = canonicalJson(payload);
  // One buffer, hashed once: this runs for every row of every verification.
  const length = Buffer.byteLength(canonical, 'utf8');
  const message = Buffer.allocUnsafe(length + (prevHash === null ? 0 : 32));
  message.write(canonical, 0, 'utf8');
  if (prevHash !== null) message.write(prevHash, length, 'hex');
  return { message, digest: hash('sha256', message, 'buffer') };
}

let scratch = Buffer.allocUnsafe(1 << 16);

/**
 * digestRow's digest as hex, without the message: the message is built in one reused buffer, so
 * a verification of millions of unsigned events allocates no buffer per event for it.
 */
export function chainDigestHex(payload: JsonValue, prevHash: string | null): string {
  const canonical = canonicalJson(payload);
  const need = canonical.length * 3 + 32; // UTF-8 needs at most 3 bytes per UTF-16 unit
  if (scratch.length < need) scratch = Buffer.allocUnsafe(need);
  const length = scratch.write(canonical, 0, 'utf8');
  const end = prevHash === null ? length : length + scratch.write(prevHash, length, 'hex');
  return hash('sha256', scratch.subarray(0, end), 'hex');
}

/**
 * The Merkle leaf of an event (checkpoint mode): the event's chain digest together with the fields
 * Agent Manager's signature leaves out, so a checkpoint covers id, actor, type and time as well.
 * leaf = SHA-256(0x00 || UTF-8(canonical {actor_id, created_at, digest, event_type, id})).
 */
export function eventLeafHash(row: AuditRow, digestHex: string): Buffer {
  return Buffer.from(eventLeafBinary(row, digestHex), 'latin1');
}

/** eventLeafHash() as a BinaryHash, for building trees without a Buffer per leaf. */
export function eventLeafBinary(row: AuditRow, digestHex: string): BinaryHash {
  // '\u0000' + text is the UTF-8 bytes 0x00 || text: leafHash() without two copies.
  return hash('sha256', `\u0000${eventLeafText(row, digestHex)}`, 'binary');
}

// RFC 8785 writes strings as JSON.stringify does and sorts these keys as written here, so this
// is canonicalJson({...}) byte for byte (a unit test holds it to that), without its generality:
// it runs for every event of every checkpointed verification.
export function eventLeafText(row: AuditRow, digestHex: string): string {
  const s = jsonString;
  return (
    `{"actor_id":${repeated.actor(row.actor_id)},"created_at":${s(row.created_at)},"digest":"${digestHex}",` +
    `"event_type":${repeated.type(row.event_type)},"id":${s(row.id)}}`
  );
}

// JSON.stringify of a string, where the common case (nothing to escape) skips the call.
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;
function jsonString(value: string): string {
  return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
}

// Consecutive events mostly share actor and type: their JSON text is kept from the last event.
const repeated = { actor: lastJson(), type: lastJson() };

function lastJson(): (value: string | null) => string {
  let last: string | null | undefined;
  let text = '';
  return (value) => {
    if (value !== last) {
      last = value;
      text = value === null ? 'null' : jsonString(value);
    }
    return text;
  };
}

export function newRowId(): string {
  return randomUUID();
}

/** Text from a hostile line, safe to print: control characters, and bytes that were not UTF-8, escaped. */
export function printable(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f-\u009f\ufffd]/g, (c) =>
    c === '\ufffd' ? '\\ufffd' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
}
