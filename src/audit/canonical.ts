import * as jcs from 'canonicalize';
import { UsageError } from '../errors.js';
import { messageOf } from '../sys/operator-file.js';

/** A JSON value as it comes out of JSON.parse. */
export type JsonValue = null | boolean | number | string | JsonValue[] | { [key: string]: JsonValue };

const MAX_DEPTH = 256;
const NUMBER_TOKEN = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * Parses payload text and refuses anything that is not I-JSON (RFC 7493): duplicate member
 * names, integer literals beyond 2^53 - 1 (JSON.parse silently rounds them, so the signed bytes
 * would not be what the operator wrote), lone surrogates (not representable in UTF-8, so the
 * canonical bytes are ill-defined), and nesting deeper than 256.
 * The text is attacker-controlled when it comes from a batch on stdin: every failure is a named
 * UsageError, never a SyntaxError.
 */
export function parseIJson(text: string, what = 'payload'): JsonValue {
  let value: JsonValue;
  try {
    value = JSON.parse(text) as JsonValue;
  } catch (err) {
    throw new UsageError({
      code: 'PAYLOAD_NOT_JSON',
      message: `${what} is not valid JSON: ${messageOf(err)}`,
      hint: `pass a JSON value, for example --payload '{"action":"spawn"}'`,
    });
  }
  scanSourceText(text, what);
  assertIJsonValue(value, what);
  return value;
}

/** Walks the source text for what JSON.parse hides: duplicate keys and oversized integers. */
function scanSourceText(text: string, what: string): void {
  const dup = duplicateMember(text);
  if (dup !== undefined) notIJson(what, `duplicate key ${JSON.stringify(dup)}`);
  let depth = 0;
  let i = 0;
  while (i < text.length) {
    const ch = text[i]!;
    if (ch === '"') {
      i = endOfString(text, i);
    } else if (ch === '{' || ch === '[') {
      if (++depth > MAX_DEPTH) notIJson(what, `nesting deeper than ${MAX_DEPTH}`);
      i++;
    } else if (ch === '}' || ch === ']') {
      depth--;
      i++;
    } else if (ch === '-' || (ch >= '0' && ch <= '9')) {
      NUMBER_TOKEN.lastIndex = i;
      const token = NUMBER_TOKEN.exec(text)![0];
      if (!/[.eE]/.test(token) && !Number.isSafeInteger(Number(token))) {
        notIJson(what, `integer ${token} is beyond 2^53 and would lose precision; send it as a string`);
      }
      i += token.length;
    } else {
      i++;
    }
  }
}

/**
 * The first member name that appears twice in one object of a JSON text, or undefined. JSON.parse
 * keeps the last value silently; every structure a signature or a key hangs on (registries,
 * anchors, proofs, checkpoints, policies) is refused when a name repeats. Iterative: any depth.
 * The text must already have parsed as JSON.
 */
export function duplicateMember(text: string): string | undefined {
  const stack: (Set<string> | null)[] = [];
  for (let i = 0; i < text.length;) {
    const ch = text[i]!;
    if (ch === '"') {
      const end = endOfString(text, i);
      const container = stack[stack.length - 1];
      if (container && isFollowedByColon(text, end)) {
        const key = JSON.parse(text.slice(i, end)) as string;
        if (container.has(key)) return key;
        container.add(key);
      }
      i = end;
    } else {
      if (ch === '{' || ch === '[') stack.push(ch === '{' ? new Set() : null);
      else if (ch === '}' || ch === ']') stack.pop();
      i++;
    }
  }
  return undefined;
}

function endOfString(text: string, start: number): number {
  let i = start + 1;
  while (i < text.length && text[i] !== '"') i += text[i] === '\\' ? 2 : 1;
  return i + 1;
}

function isFollowedByColon(text: string, from: number): boolean {
  let i = from;
  while (text[i] === ' ' || text[i] === '\n' || text[i] === '\r' || text[i] === '\t') i++;
  return text[i] === ':';
}

/**
 * Checks an already-parsed value (from a file row, a database row or a caller) for what RFC 8785
 * cannot encode faithfully: non-finite numbers, lone surrogates, and values that are not plain
 * JSON (Date, Map, undefined, BigInt) which Agent Manager signed over different bytes than it stored.
 */
export function assertIJsonValue(value: unknown, what = 'payload', path = '$', depth = 0): asserts value is JsonValue {
  if (depth > MAX_DEPTH) notIJson(what, `nesting deeper than ${MAX_DEPTH}`);
  if (value === null || typeof value === 'boolean') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) notIJson(what, `non-finite number at ${path}`);
    return;
  }
  if (typeof value === 'string') {
    if (!value.isWellFormed()) notIJson(what, `lone surrogate in string at ${path}`);
    return;
  }
  if (Array.isArray(value)) {
    value.forEach((item, idx) => assertIJsonValue(item, what, `${path}[${idx}]`, depth + 1));
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const [key, item] of Object.entries(value)) {
      if (!key.isWellFormed()) notIJson(what, `lone surrogate in key at ${path}`);
      assertIJsonValue(item, what, `${path}.${key}`, depth + 1);
    }
    return;
  }
  notIJson(what, `${describeType(value)} at ${path} is not a JSON value`);
}

function describeType(value: unknown): string {
  if (typeof value !== 'object') return typeof value;
  return (value as object).constructor?.name ?? 'object';
}

function notIJson(what: string, reason: string): never {
  throw new UsageError({
    code: 'PAYLOAD_NOT_IJSON',
    message: `${what} is not I-JSON: ${reason}`,
    hint: 'audit payloads must be I-JSON (RFC 7493) so that their canonical bytes verify later',
  });
}

/** RFC 8785 canonical JSON, identical to Agent Manager's canonicalize() on I-JSON input. */
export function canonicalJson(value: JsonValue): string {
  // RFC 8785 writes strings and numbers exactly as JSON.stringify does (§3.2.2), so a value whose
  // objects all list their keys in sorted order already is canonical as JSON.stringify writes it:
  // two to three times faster, and the case of every payload agentkeys wrote itself (serializeRow).
  // Anything else, or anything unusual, goes to the library (a property test holds them equal).
  if (inCanonicalOrder(value, 0)) return JSON.stringify(value);
  // The library recurses without a bound: a value nested thousands deep would overflow the stack.
  if (nestsDeeper(value, MAX_DEPTH)) notIJson('value', `nesting deeper than ${MAX_DEPTH}`);
  return canonicalizeJcs(value) as string;
}

function nestsDeeper(value: unknown, levels: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (levels === 0) return true;
  for (const item of Array.isArray(value) ? value : Object.values(value))
    if (nestsDeeper(item, levels - 1)) return true;
  return false;
}

function inCanonicalOrder(value: unknown, depth: number): boolean {
  if (typeof value !== 'object') {
    return typeof value === 'string' || typeof value === 'boolean' || Number.isFinite(value);
  }
  if (value === null) return true;
  if (depth > MAX_DEPTH) return false;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) if (!inCanonicalOrder(value[i], depth + 1)) return false;
    return true;
  }
  const record = value as Record<string, unknown>;
  if (typeof record.toJSON === 'function') return false;
  // Own keys in JSON.stringify's order: integer-like keys first, numerically, then insertion order.
  const keys = Object.keys(record);
  for (let i = 0; i < keys.length; i++) {
    if (i > 0 && !(keys[i - 1]! < keys[i]!)) return false;
    if (!inCanonicalOrder(record[keys[i]!], depth + 1)) return false;
  }
  return true;
}

// canonicalize@2 is CommonJS (module.exports = fn) but its typings declare a default export.
const canonicalizeJcs = (jcs as unknown as { default: (value: unknown) => string | undefined }).default;

const HEX64 = /^[0-9a-f]{64}$/;

export function isDigestHex(value: unknown): value is string {
  return typeof value === 'string' && HEX64.test(value);
}
