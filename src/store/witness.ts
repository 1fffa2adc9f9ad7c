// A witness outside the writer's reach: every checkpoint is also written, once and never again,
// to an S3 bucket with Object Lock in compliance mode (setup's witness-bucket step). A writer
// with full access to the log and its database still cannot cut the tail or rewrite history
// below the newest witnessed checkpoint: verify-audit --witness checks the log against it.
import { parseCheckpointText, parseNote } from '../audit/checkpoint.js';
import { AgentkeysError, UsageError } from '../errors.js';

/** The three object calls a witness needs (src/aws/s3.ts createS3ObjectApi). */
export interface WitnessObjects {
  putObjectIfAbsent(bucket: string, key: string, body: string): Promise<'written' | 'exists'>;
  listKeys(bucket: string, prefix: string): Promise<string[]>;
  getObjectText(bucket: string, key: string): Promise<string>;
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
const keyFor = (loc: WitnessLocation, origin: string, size: number) => {
  const folder = `${loc.prefix ? `${loc.prefix}/` : ''}${encodeURIComponent(origin)}`;
  return `${folder}/${String(size).padStart(SIZE_DIGITS, '0')}.checkpoint`;
};

export interface WitnessedCheckpoint {
  key: string;
  note: string;
  size: number;
  origin: string;
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

/** The newest witnessed checkpoint of each origin under the prefix. */
export async function newestWitnessed(objects: WitnessObjects, loc: WitnessLocation): Promise<WitnessedCheckpoint[]> {
  const base = loc.prefix ? `${loc.prefix}/` : '';
  const newest = new Map<string, { key: string; size: number }>();
  const pattern = new RegExp(`^${escapeRegExp(base)}([^/]+)/(\\d{${SIZE_DIGITS}})\\.checkpoint$`);
  for (const key of await objects.listKeys(loc.bucket, base)) {
    const m = pattern.exec(key);
    if (!m) continue;
    const size = Number(m[2]);
    const origin = decodeURIComponent(m[1]!);
    if ((newest.get(origin)?.size ?? -1) < size) newest.set(origin, { key, size });
  }
  const out: WitnessedCheckpoint[] = [];
  for (const [origin, { key, size }] of newest)
    out.push({ key, size, origin, note: await objects.getObjectText(loc.bucket, key) });
  return out;
}

const escapeRegExp = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
