import { promises as fsp } from 'node:fs';
import { anchorPathFor, anchorSignedBytes, ANCHOR_FORMAT, parseAnchor, type Anchor } from '../audit/anchor.js';
import type { AnchorWriter, ChainHead, CheckpointLog } from '../audit/chain.js';
import { digestRow } from '../audit/record.js';
import { cursorAtCheckpoint, cursorSize, diverged, newestValid } from '../audit/tree-cursor.js';
import { AgentkeysError } from '../errors.js';
import { signAndCheck, type AuditSigner } from '../signing/signer.js';
import { decodeBase64Strict, verifySignature } from '../signing/verify.js';
import { writeFileAtomic } from '../sys/fs.js';
import { countLines, linesFromEnd } from './file-tail.js';
import { readFileRows } from './file-chunks.js';
import { parseRowLine } from '../audit/record.js';
import { errnoCode, messageOf } from '../sys/operator-file.js';

export async function readAnchorIfExists(file: string): Promise<{ path: string; text: string } | undefined> {
  try {
    return { path: file, text: await fsp.readFile(file, 'utf8') };
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw new AgentkeysError({
      code: 'ANCHOR_UNREADABLE',
      message: `cannot read anchor ${file}: ${messageOf(err)}`,
      cause: err,
    });
  }
}

/** Reads the anchor verification was told to use: a path, the default beside a file log, or none. */
export async function readChosenAnchor(choice: string | false | undefined, defaultPath: string | null) {
  if (choice === false) return undefined;
  const file = choice ?? defaultPath;
  return file === null ? undefined : readAnchorIfExists(file);
}

/**
 * How often a per-row writer re-signs the anchor (sign --anchor-every N / --anchor-interval T):
 * each anchor is one more signature, a KMS Sign for a KMS key. Events after the newest anchor are
 * not covered by it: cutting them is invisible to the anchor (docs/threat-model.md).
 */
export interface AnchorPolicy {
  /** Re-sign once this many events have been appended since the anchor (default 1: every append). */
  every?: number;
  /** Re-sign once the anchor is this old (ms), whatever the count. */
  intervalMs?: number;
}

// How far back from the end a writer looks for an anchor's head before it reads the whole log.
const TAIL_SEARCH_LINES = 100_000;

/** Whether the anchor must be re-signed now that the chain holds `events`. */
export function anchorDue(prior: Anchor | undefined, events: number, policy: AnchorPolicy, now: Date): boolean {
  if (!prior || prior.format !== ANCHOR_FORMAT) return true;
  const every = policy.every ?? (policy.intervalMs === undefined ? 1 : Infinity);
  if (events - prior.events >= every) return true;
  return policy.intervalMs !== undefined && now.getTime() - Date.parse(prior.updated_at) >= policy.intervalMs;
}

/** The anchor beside a log as it is now, when there is a usable one. */
export async function currentAnchor(log: string): Promise<Anchor | undefined> {
  const found = await readAnchorIfExists(anchorPathFor(log));
  const anchor = found && parseAnchor(found.text);
  return typeof anchor === 'object' ? anchor : undefined;
}

/**
 * The events after the one whose digest is `head`, searched back from the end of the log through
 * at most TAIL_SEARCH_LINES lines; undefined when it is not among them (the caller then scans).
 */
export async function eventsAfterHead(log: string, head: string): Promise<number | undefined> {
  let after = 0;
  for await (const line of linesFromEnd(log)) {
    if (after >= TAIL_SEARCH_LINES) return undefined;
    let digest: string;
    try {
      const row = parseRowLine(line);
      digest = digestRow(row.payload, row.prev_hash).digest.toString('hex');
    } catch {
      return undefined; // an unreadable line: the full scan says what is wrong with it
    }
    if (digest === head) return after;
    after++;
  }
  return undefined;
}

/** Signs `<log>.anchor.json` for a chain of this length and head (self-checked before it is written). */
export async function signAnchorFor(log: string, head: ChainHead, signer: AuditSigner): Promise<void> {
  const unsigned = {
    format: ANCHOR_FORMAT,
    events: head.events,
    head: head.prevHash!,
    signer_kid: signer.kid,
    updated_at: new Date().toISOString(),
  } as const;
  const signature = await signAndCheck(signer, anchorSignedBytes(unsigned));
  const anchor: Anchor = { ...unsigned, signature: signature.toString('base64') };
  await writeFileAtomic(anchorPathFor(log), `${JSON.stringify(anchor, null, 2)}\n`);
}

/**
 * A per-row writer's check, under the chain lock, before it appends and re-signs the anchor: the
 * anchor there must verify, and the log must still hold its head at its position. The usual case
 * (the anchor's head is the log's last event) costs one file read; otherwise the log is scanned.
 * Returns the head with its event count proven. A log with events and no anchor is refused: its
 * anchor was deleted, or another tool wrote it (adopt it with --adopt).
 */
export async function assertExtendsAnchor(
  log: string,
  head: ChainHead,
  writer: AnchorWriter,
  adopt: boolean,
  checkpoints: CheckpointLog,
): Promise<ChainHead> {
  const found = await readAnchorIfExists(anchorPathFor(log));
  const witnessedFirst = found ? undefined : await newestWitnessedAnchor(writer);
  // The anchor file is gone but the witness keeps one: the log must still hold that.
  if (witnessedFirst) return { prevHash: head.prevHash, events: await holds(log, head, [witnessedFirst]) };
  if (!found) {
    if (head.prevHash === null || adopt) return head;
    // A log written in checkpoint mode keeps checkpoints instead: the newest trusted one must hold.
    const fromCheckpoint = await countFromCheckpoint(log, writer, checkpoints);
    if (fromCheckpoint !== undefined) return { prevHash: head.prevHash, events: fromCheckpoint };
    throw diverged(
      `the log has events but no signed anchor (${anchorPathFor(log)} is gone, or another tool wrote the log), ` +
        'so a cut tail could not be told from an intact one',
      log,
      'if the log is intact, adopt it: sign again with --adopt',
    );
  }
  const anchor = parseAnchor(found.text);
  if (typeof anchor === 'string') throw diverged(`its anchor is unusable: ${anchor}`, log);
  if (!(await anchorVerifies(anchor, writer)))
    throw diverged(`its anchor's signature by ${anchor.signer_kid} does not verify with a trusted key`, log);
  const witnessed = await newestWitnessedAnchor(writer);
  const proven = await holds(log, head, [anchor, ...(witnessed && witnessed.head !== anchor.head ? [witnessed] : [])]);
  return { prevHash: head.prevHash, events: proven };
}

/**
 * The event count of a log that has no anchor but has checkpoints: the newest checkpoint that
 * opens with a trusted key must be held by the log (tree-cursor's proof, LOG_DIVERGED otherwise),
 * and the events after it are counted. Undefined when no trusted checkpoint exists: a checkpoint
 * file that merely exists (even one of junk) vouches for nothing.
 */
async function countFromCheckpoint(
  log: string,
  writer: AnchorWriter,
  checkpoints: CheckpointLog,
): Promise<number | undefined> {
  const keyOf = (kid: string) => writer.keyOf?.(kid);
  const newest = newestValid(await checkpoints.checkpointRecords(), keyOf, undefined);
  if (!newest) return undefined;
  const cursor = await cursorAtCheckpoint(checkpoints, newest.checkpoint, newest.record.state, log);
  return cursorSize(cursor) + (await countLines(log, cursor.position));
}

/** The witnessed anchor with the most events among those that verify (others are verify-audit's). */
async function newestWitnessedAnchor(writer: AnchorWriter): Promise<Anchor | undefined> {
  let newest: Anchor | undefined;
  for (const text of writer.witnessed ?? []) {
    const a = parseAnchor(text);
    if (typeof a === 'object' && (!newest || a.events > newest.events) && (await anchorVerifies(a, writer))) newest = a;
  }
  return newest;
}

/**
 * The log's event count, once it is shown to hold every anchor's head at its position: the
 * usual case (one anchor, whose head is the log's last event or one of the last few) reads
 * nothing more or only the tail; otherwise the log is scanned once.
 */
async function holds(log: string, head: ChainHead, anchors: readonly Anchor[]): Promise<number> {
  if (anchors.length === 1 && head.prevHash === anchors[0]!.head) return anchors[0]!.events;
  if (anchors.length === 1) {
    // An anchor signed every N events (--anchor-every): its head is a few lines from the end.
    const after = await eventsAfterHead(log, anchors[0]!.head);
    if (after !== undefined) return anchors[0]!.events + after;
  }
  const wanted = new Map(anchors.map((a) => [a.events, a]));
  const found = new Map<number, string>();
  let events = 0;
  for await (const row of readFileRows(log, {})) {
    events++;
    if (wanted.has(events)) found.set(events, digestRow(row.payload, row.prev_hash).digest.toString('hex'));
  }
  for (const a of anchors) {
    const which = a === anchors[0] ? 'its signed anchor' : 'the newest anchor its witness holds';
    if (events < a.events) throw diverged(`the log holds ${events} events, but ${which} records ${a.events}`, log);
    if (found.get(a.events) !== a.head)
      throw diverged(`event ${a.events} is not the head ${which} records (${a.head})`, log);
  }
  return events;
}

async function anchorVerifies(anchor: Anchor, writer: AnchorWriter): Promise<boolean> {
  const signature = decodeBase64Strict(anchor.signature);
  if (!signature) return false;
  const signed = anchorSignedBytes(anchor);
  const key = writer.keyOf?.(anchor.signer_kid);
  if (key) return verifySignature(key, signed, signature);
  return anchor.signer_kid === writer.signer.kid && writer.signer.verifyOwn(signed, signature);
}
