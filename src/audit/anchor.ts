import { createHash } from 'node:crypto';
import type { SignedBytes } from '../signing/verify.js';
import { canonicalJson, duplicateMember, isDigestHex } from './canonical.js';

/**
 * v2 signs "agentkeys-anchor/v2\n" before the canonical fields: no row's signed bytes (canonical
 * JSON first, which never starts with a letter "a") can be an anchor's, so a signature over an
 * event crafted to look like an anchor never verifies as one. v1 signed the canonical JSON alone,
 * the same bytes as a genesis event with that payload; it is still read while logs move to v2
 * (every append rewrites the anchor), with an ANCHOR_LEGACY notice.
 */
export const ANCHOR_FORMAT = 'agentkeys-anchor/v2';
export const LEGACY_ANCHOR_FORMAT = 'agentkeys-anchor/v1';

/**
 * A signed statement of how long the chain was and what its head was. Agent Manager's scheme
 * cannot see a dropped tail (docs/audit-format.md §9.2); comparing against this can.
 */
export interface Anchor {
  format: typeof ANCHOR_FORMAT | typeof LEGACY_ANCHOR_FORMAT;
  events: number;
  head: string;
  signer_kid: string;
  updated_at: string;
  signature: string;
}

export type UnsignedAnchor = Omit<Anchor, 'signature'>;

export function anchorPathFor(log: string): string {
  return `${log}.anchor.json`;
}

/** The signature covers every field but itself, canonicalised, with the format name as domain separator. */
export function anchorSignedBytes(anchor: UnsignedAnchor): SignedBytes {
  const { format, events, head, signer_kid, updated_at } = anchor;
  const fields = canonicalJson({ format, events, head, signer_kid, updated_at });
  const message = Buffer.from(format === LEGACY_ANCHOR_FORMAT ? fields : `${ANCHOR_FORMAT}\n${fields}`, 'utf8');
  return { message, digest: createHash('sha256').update(message).digest() };
}

/** Untrusted input: returns the reason it is unusable instead of throwing. */
export function parseAnchor(text: string): Anchor | string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(text) as Record<string, unknown>;
  } catch {
    return 'the anchor file is not JSON';
  }
  if (typeof v !== 'object' || v === null) return 'the anchor file is not a JSON object';
  const dup = duplicateMember(text);
  if (dup !== undefined) return `the anchor names ${JSON.stringify(dup)} twice: a reader could take either value`;
  if (v.format !== ANCHOR_FORMAT && v.format !== LEGACY_ANCHOR_FORMAT)
    return `unknown anchor format ${JSON.stringify(v.format)}`;
  if (!Number.isSafeInteger(v.events) || (v.events as number) < 1) return 'events must be a positive integer';
  if (!isDigestHex(v.head)) return 'head must be 64 lowercase hex characters';
  if (typeof v.signer_kid !== 'string' || typeof v.updated_at !== 'string' || typeof v.signature !== 'string') {
    return 'signer_kid, updated_at and signature must be strings';
  }
  const extra = Object.keys(v).filter(
    (k) => !['format', 'events', 'head', 'signer_kid', 'updated_at', 'signature'].includes(k),
  );
  if (extra.length > 0) return `unknown field(s) ${extra.join(', ')}`;
  return v as unknown as Anchor;
}
