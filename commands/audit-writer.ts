// What every audit writer command shares: the keys it trusts when it proves the log before
// writing, and checkpoint mode's write with its test hook.
import { appendSignedEvents, type AppendOptions } from '../src/audit/append.js';
import { appendWithCheckpoints, type CheckpointPolicy, type CheckpointRun } from '../src/audit/checkpointing.js';
import type { WriterOptions } from '../src/audit/checkpoint-writer.js';
import type { KeyOf } from '../src/audit/tree-cursor.js';
import type { NewEvent } from '../src/audit/record.js';
import { findOrigin } from '../src/audit/origin.js';
import { writerKeyOf } from '../src/audit/writer-trust.js';
import { verifierRegistry } from '../src/signing/registry-input.js';
import { ensureRegistered, type RegistrableSigner } from '../src/signing/registration.js';
import type { AuditSigner } from '../src/signing/signer.js';
import type { AuditStore } from '../src/store/store.js';
import {
  assertWitnessBucket,
  parseWitnessUrl,
  readWitness,
  witnessAnchor,
  witnessCheckpoints,
  type WitnessReading,
} from '../src/store/witness.js';
import { readFile } from 'node:fs/promises';
import { UsageError } from '../src/errors.js';
import type { CommandContext } from './context.js';

// The keys a signer's writes trust, read once per signer: the mcp server appends on every call,
// and re-reading the registry each time would put a file read (or an HTTPS fetch) on that path.
const trustOf = new WeakMap<AuditSigner, Promise<KeyOf>>();

function trustedKeys(ctx: CommandContext, signer: AuditSigner): Promise<KeyOf> {
  let keyOf = trustOf.get(signer);
  if (!keyOf) {
    keyOf = (async () => {
      const registry = await verifierRegistry(ctx.config);
      // Nothing is signed under a kid the verifier would not find this key under (issue 24).
      await ensureRegistered(signer as AuditSigner & RegistrableSigner, registry);
      return writerKeyOf(signer, registry);
    })();
    trustOf.set(signer, keyOf);
  }
  return keyOf;
}

/** What a writer trusts and reads before it writes: the registry, its own key, the witness. */
export async function writerOptions(
  ctx: CommandContext,
  signer: AuditSigner,
  label: string,
  witnessed: readonly string[] = [],
): Promise<WriterOptions> {
  return { keyOf: await trustedKeys(ctx, signer), label, witnessed };
}

/**
 * Checkpoint mode's write: the log's origin (given, or found from the log), the witness's notes
 * for it, then the writer proves the log, appends, and signs its checkpoints.
 */
export async function appendCheckpointed(
  ctx: CommandContext,
  store: AuditStore,
  signer: AuditSigner,
  events: readonly NewEvent[],
  policy: CheckpointPolicy,
  witnessUrl: string | undefined,
) {
  const opts = await writerOptions(ctx, signer, store.label);
  // The witness folder needs the origin now; without one the writer finds it in its single read.
  const origin = policy.origin ?? (witnessUrl ? await findOrigin(store, opts.keyOf, store.label) : undefined);
  const witnessed = await witnessBeforeWrite(ctx, witnessUrl, origin);
  return appendWithCheckpoints(store, signer, events, origin ? { ...policy, origin } : policy, {
    ...opts,
    witnessed,
    afterAppend: pauseAfterAppendForTests,
  });
}

/**
 * Test hook (AGENTKEYS_TEST_PAUSE_AFTER_APPEND=1): with the events written and no checkpoint yet,
 * say so on stderr and wait, so a test can SIGKILL the writer at exactly that point.
 */
async function pauseAfterAppendForTests(): Promise<void> {
  if (process.env.AGENTKEYS_TEST_PAUSE_AFTER_APPEND !== '1') return;
  process.stderr.write('agentkeys: paused after append\n');
  await new Promise<never>(() => setInterval(() => undefined, 1 << 30));
}

/**
 * Per-row mode's write: the anchor already there is checked with the registry and the signer's
 * key, and with --witness against the newest anchor the witness holds; the new anchor is then
 * witnessed too (file logs: a database keeps no anchor).
 */
export async function appendSigned(
  ctx: CommandContext,
  store: AuditStore,
  signer: AuditSigner,
  events: readonly NewEvent[],
  opts: AppendOptions = {},
  witnessUrl?: string,
) {
  if (witnessUrl && !store.anchorPath)
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: `${store.label} keeps no anchor to witness in per-row mode`,
      hint: 'on Postgres, witness checkpoints: add --checkpoint-every N',
    });
  const trusted = await trustedKeys(ctx, signer); // the kid checked against the registry, every store
  const keyOf = store.anchorPath ? trusted : undefined;
  const origin = witnessUrl ? await findOrigin(store, keyOf!, store.label) : undefined;
  const reading = await readWitnessBeforeWrite(ctx, witnessUrl, origin);
  const result = await appendSignedEvents(store, signer, events, {
    ...opts,
    ...(keyOf ? { keyOf } : {}),
    witnessedAnchors: reading?.anchors.map((a) => a.text) ?? [],
  });
  let witnessed: string[] = [];
  if (witnessUrl && store.anchorPath) {
    const anchorText = await readFile(store.anchorPath, 'utf8');
    const at = origin ?? (await findOrigin(store, keyOf!, store.label))!;
    witnessed = await witnessAnchor(await ctx.services.witnessObjects(), parseWitnessUrl(witnessUrl), at, anchorText);
  }
  return { ...result, witnessed };
}

/**
 * Before a write with --witness: the bucket must be a witness (versioning, compliance-mode Object
 * Lock), and the notes it holds for this origin's largest trees come back for the writer to prove.
 */
export async function witnessBeforeWrite(
  ctx: CommandContext,
  url: string | undefined,
  origin: string | undefined,
): Promise<string[]> {
  return (await readWitnessBeforeWrite(ctx, url, origin))?.notes.map((n) => n.note) ?? [];
}

async function readWitnessBeforeWrite(
  ctx: CommandContext,
  url: string | undefined,
  origin: string | undefined,
): Promise<WitnessReading | undefined> {
  if (!url) return undefined;
  const loc = parseWitnessUrl(url);
  const objects = await ctx.services.witnessObjects();
  await assertWitnessBucket(objects, loc);
  if (!origin) return undefined; // an empty log: its genesis, not yet written, will name it
  return readWitness(objects, loc, origin, { newestKeys: 2 });
}

/** --witness s3://…: the checkpoints just signed, written once to the Object Lock bucket. */
export async function witnessRun(ctx: CommandContext, url: string | undefined, run: CheckpointRun): Promise<string[]> {
  if (!url) return [];
  return witnessCheckpoints(await ctx.services.witnessObjects(), parseWitnessUrl(url), run.notes);
}
