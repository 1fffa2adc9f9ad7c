import { canonicalJson, type JsonValue } from '../audit/canonical.js';

type Doc = Record<string, unknown>;

/**
 * IAM and S3 return policies with arrays in any order, single values where we wrote arrays, and
 * (IAM) URL-encoded. Two documents are the same when their canonical forms are: drift is a
 * change, not just a missing Sid .
 */
export function canonicalPolicy(doc: string | Doc | undefined): string | undefined {
  if (doc === undefined) return undefined;
  let parsed: Doc;
  try {
    parsed = typeof doc === 'string' ? (JSON.parse(doc) as Doc) : doc;
  } catch {
    return `unparseable:${String(doc)}`;
  }
  const statements = toArray(parsed.Statement).map((s) => normalizeValue(s));
  statements.sort((a, b) => canonicalJson(a as JsonValue).localeCompare(canonicalJson(b as JsonValue)));
  return canonicalJson({ Version: (parsed.Version as string) ?? '2012-10-17', Statement: statements } as JsonValue);
}

export function samePolicy(a: string | Doc | undefined, b: string | Doc | undefined): boolean {
  return canonicalPolicy(a) === canonicalPolicy(b);
}

function normalizeValue(v: unknown): unknown {
  if (Array.isArray(v)) {
    const items = v.map(normalizeValue);
    return items.length === 1 ? items[0] : items.sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
  }
  if (v && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, normalizeValue(x)]));
  return v;
}

function toArray(v: unknown): unknown[] {
  return v === undefined ? [] : Array.isArray(v) ? v : [v];
}
