// A witness outside the writer's reach: every checkpoint is also written, once and never again,
// to an S3 bucket with versioning and Object Lock in compliance mode (setup's witness-bucket
// step). The writer's rights there are s3:PutObject only, which still lets an attacker with those
// rights put new objects, overwrite a key (S3 keeps the locked version and serves the new one) or
// hide versions behind delete markers. So the witness is read whole: every version under the
// prefix, hidden ones included, each note ordered by the tree size inside it, never by its key.
import { parseAnchor } from '../audit/anchor.js';
import { parseCheckpointText, parseNote } from '../audit/checkpoint.js';
import type { Finding } from '../audit/findings.js';
import { AgentkeysError, UsageError } from '../errors.js';

export interface ObjectVersion {
  key: string;
  versionId: string;
  deleteMarker: boolean;
}

/** The object calls a witness needs (src/aws/s3.ts createS3ObjectApi). */
export interface WitnessObjects {
  putObjectIfAbsent(bucket: string, key: string, body: string): Promise<'written' | 'exists'>;
  listVersions(bucket: string, prefix: string): Promise<ObjectVersion[]>;
  getObjectText(bucket: string, key: string, versionId?: string): Promise<string>;
  bucketProtection(
    bucket: string,
  ): Promise<{ versioning: string | undefined; lock: { mode?: string; days?: number } | undefined }>;
}

export interface WitnessLocation {
  bucket: string;
  prefix: string;
}

export function parseWitnessUrl(url: string): WitnessLocation {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) {
    throw new UsageError({
      code: 'WITNESS_URL_INVALID',
      message: `--witness "${url}" is not s3://bucket[/prefix]`,
      hint: 'the witness bucket setup creates: s3://agentkeys-witness[-test]-ACCOUNT/audit',
    });
  }
  return { bucket: m[1]!, prefix: (m[2] ?? '').replace(/\/+$/, '') };
}

// Keys sort by tree size: zero-padded, one folder per origin.
const SIZE_DIGITS = 16;
// An origin may hold '/' (agentkeys.local/audit.jsonl): it is one path segment, URI-encoded.
const folderOf = (loc: WitnessLocation, origin: string) =>
  `${loc.prefix ? `${loc.prefix}/` : ''}${encodeURIComponent(origin)}/`;
const keyFor = (loc: WitnessLocation, origin: string, size: number, kind: 'checkpoint' | 'anchor' = 'checkpoint') =>
  `${folderOf(loc, origin)}${String(size).padStart(SIZE_DIGITS, '0')}.${kind}`;

/**
 * Refuses a bucket that cannot hold a witness: without versioning an overwrite destroys the
 * note, and without Object Lock in compliance mode a version can be deleted.
 */
export async function assertWitnessBucket(objects: WitnessObjects, loc: WitnessLocation): Promise<void> {
  const { versioning, lock } = await objects.bucketProtection(loc.bucket);
  const missing = [
    ...(versioning !== 'Enabled' ? ['versioning'] : []),
    ...(lock?.mode !== 'COMPLIANCE' ? ['Object Lock in compliance mode with a default retention'] : []),
  ];
  if (missing.length === 0) return;
  throw new UsageError({
    code: 'WITNESS_BUCKET_UNPROTECTED',
    message:
      `s3://${loc.bucket} has no ${missing.join(' and no ')}: ` +
      'a writer could overwrite or delete what it witnesses',
    hint: 'use the bucket setup makes: agentkeys setup --only-step witness-bucket',
  });
}

/**
 * Writes each checkpoint once. A key that is taken holding the same note is fine (a retry);
 * holding another note for the same size is two different histories signed by the log:
 * WITNESS_CONFLICT, and nothing is overwritten (S3 refuses with 412 anyway).
 */
export async function witnessCheckpoints(
  objects: WitnessObjects,
  loc: WitnessLocation,
  notes: readonly string[],
): Promise<string[]> {
  const written: string[] = [];
  for (const note of notes) {
    const { origin, size } = parseCheckpointText(parseNote(note).text);
    const key = keyFor(loc, origin, size);
    if ((await objects.putObjectIfAbsent(loc.bucket, key, note)) === 'written') {
      written.push(key);
      continue;
    }
    const existing = await objects.getObjectText(loc.bucket, key);
    if (existing !== note) {
      throw new AgentkeysError({
        code: 'WITNESS_CONFLICT',
        message: `s3://${loc.bucket}/${key} already witnesses a different checkpoint of ${origin} at ${size} events`,
        hint: 'two histories of one log were signed: verify the log, and find who wrote the other one',
      });
    }
  }
  return written;
}

/**
 * A per-row log's anchor, written once under its event count: an anchor later swapped for an
 * older one (with the log cut to match) is then still caught. The same count with another head
 * is two histories: WITNESS_CONFLICT.
 */
export async function witnessAnchor(
  objects: WitnessObjects,
  loc: WitnessLocation,
  origin: string,
  anchorText: string,
): Promise<string[]> {
  const anchor = parseAnchor(anchorText);
  if (typeof anchor === 'string') return [];
  const key = keyFor(loc, origin, anchor.events, 'anchor');
  if ((await objects.putObjectIfAbsent(loc.bucket, key, anchorText)) === 'written') return [key];
  const existing = parseAnchor(await objects.getObjectText(loc.bucket, key));
  if (typeof existing === 'string' || existing.head !== anchor.head) {
    throw new AgentkeysError({
      code: 'WITNESS_CONFLICT',
      message: `s3://${loc.bucket}/${key} already witnesses another head of ${origin} at ${anchor.events} events`,
      hint: 'two histories of one log were anchored: verify the log, and find who wrote the other one',
    });
  }
  return [];
}

export interface WitnessedCheckpoint {
  key: string;
  versionId: string;
  note: string;
  /** The tree size inside the note (what counts), and the one the key claims. */
  size: number;
  origin: string;
}

export interface WitnessReading {
  notes: WitnessedCheckpoint[];
  /** Anchors of a per-row log (their text), smallest event count first. */
  anchors: { key: string; versionId: string; text: string; events: number }[];
  /** Objects that are no checkpoint, or whose key disagrees with the note inside. */
  findings: Finding[];
  versions: number;
}

/**
 * Every witnessed note of one origin: each version of each object under its folder (overwritten
 * ones and those behind delete markers included), read by version id. `newest` limits the read
 * to the versions of the keys that claim the largest sizes (a writer's quick check); verification
 * reads them all.
 */
export async function readWitness(
  objects: WitnessObjects,
  loc: WitnessLocation,
  origin: string,
  opts: { newestKeys?: number } = {},
): Promise<WitnessReading> {
  const folder = folderOf(loc, origin);
  const versions = (await objects.listVersions(loc.bucket, folder)).filter((v) => !v.deleteMarker);
  const claimed = (key: string) => Number(/(\d+)\.(?:checkpoint|anchor)$/.exec(key)?.[1] ?? -1);
  let chosen = versions;
  if (opts.newestKeys !== undefined) {
    const keys = [...new Set(versions.map((v) => v.key))].sort((a, b) => claimed(b) - claimed(a));
    const top = new Set(keys.slice(0, opts.newestKeys));
    chosen = versions.filter((v) => top.has(v.key));
  }
  const reading: WitnessReading = { notes: [], anchors: [], findings: [], versions: versions.length };
  const seen = new Set<string>();
  for (const v of chosen) {
    const note = await objects.getObjectText(loc.bucket, v.key, v.versionId);
    const where = `s3://${loc.bucket}/${v.key} (version ${v.versionId.slice(0, 16)})`;
    if (v.key.endsWith('.anchor')) {
      readAnchorObject(reading, v, note, where, claimed(v.key), seen);
      continue;
    }
    let cp: { origin: string; size: number };
    try {
      cp = parseCheckpointText(parseNote(note).text);
    } catch (err) {
      if (!(err instanceof AgentkeysError)) throw err;
      reading.findings.push(witnessFinding(`${where} is no checkpoint: ${err.message}`));
      continue;
    }
    if (cp.origin !== origin || claimed(v.key) !== cp.size)
      reading.findings.push(
        witnessFinding(`${where} holds the checkpoint of ${cp.origin} at ${cp.size} events under another key`),
      );
    if (cp.origin !== origin || seen.has(note)) continue;
    seen.add(note);
    reading.notes.push({ key: v.key, versionId: v.versionId, note, size: cp.size, origin: cp.origin });
  }
  reading.notes.sort((a, b) => a.size - b.size);
  reading.anchors.sort((a, b) => a.events - b.events);
  return reading;
}

function readAnchorObject(
  reading: WitnessReading,
  v: ObjectVersion,
  text: string,
  where: string,
  claimed: number,
  seen: Set<string>,
): void {
  const anchor = parseAnchor(text);
  if (typeof anchor === 'string') return void reading.findings.push(witnessFinding(`${where} is no anchor: ${anchor}`));
  if (anchor.events !== claimed)
    reading.findings.push(witnessFinding(`${where} holds the anchor at ${anchor.events} events under another key`));
  if (seen.has(text)) return;
  seen.add(text);
  reading.anchors.push({ key: v.key, versionId: v.versionId, text, events: anchor.events });
}

function witnessFinding(message: string): Finding {
  return { index: 0, id: null, code: 'WITNESS_KEY_MISMATCH', message };
}
