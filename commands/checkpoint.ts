import { verifierRegistry } from '../src/signing/registry-input.js';
import type { RegistryInput } from '../src/signing/registry.js';
import { hostname, userInfo } from 'node:os';
import { findOrigin } from '../src/audit/origin.js';
import { parseWitnessUrl } from '../src/store/witness.js';
import { adoptUncovered } from '../src/audit/checkpoint-writer.js';
import { witnessBeforeWrite, witnessRun, writerOptions } from './audit-writer.js';
import { describeRanges } from '../src/audit/vouch.js';
import { KeyRing } from '../src/audit/keyring.js';
import { proveConsistency, proveInclusion, verifyInclusionBundle } from '../src/audit/proof.js';
import { loadKeyRing } from '../src/audit/verify-source.js';
import { requireLog } from '../src/config/load.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { openStore, withStore, type AuditStore } from '../src/store/store.js';
import { parseCheckpointText, parseNote } from '../src/audit/checkpoint.js';
import { parseWholeNumber } from './options.js';
import { assertNewOutput, writeFileAtomic } from '../src/sys/fs.js';
import { createContext, writerStoreOptions, type GlobalOptions } from './context.js';
import { openSigner, printKmsCalls, withKmsTrail } from './kms-support.js';
import { printJson, printLine, style } from './ui/format.js';
import { checkpointSummary } from './ui/checkpoint-summary.js';
import { readOperatorText } from '../src/sys/operator-file.js';

interface CheckpointOptions extends GlobalOptions {
  log?: string;
  key?: string;
  signerKid?: string;
  origin?: string;
  witness?: string;
  adopt?: boolean;
  out?: string;
  force?: boolean;
}

/**
 * `audit checkpoint`: checks the whole log against its checkpoints and, with --adopt, signs one
 * that adopts on the record the unsigned events no writer vouched for (a killed writer's tail,
 * events deferred by --checkpoint-interval). Without --adopt it only says whether any are waiting.
 */
export async function runAuditCheckpoint(options: CheckpointOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options }, { keyIsSigningKey: true });
  const log = requireLog(ctx.config);
  if (options.witness) parseWitnessUrl(options.witness); // a bad URL fails before anything is read
  if (options.out) await assertNewOutput(options.out, options.force === true);
  const { signer, run, newest } = await withKmsTrail(ctx, async () => {
    const signer = await openSigner(ctx);
    const store = openStore(log, writerStoreOptions(ctx));
    try {
      const opts = await writerOptions(ctx, signer, store.label);
      // adoptUncovered finds the origin itself; only the witness folder needs it first.
      const origin = options.origin ?? (options.witness ? await findOrigin(store, opts.keyOf, store.label) : undefined);
      const witnessed = await witnessBeforeWrite(ctx, options.witness, origin);
      const by = options.adopt ? adopterName() : undefined;
      const run = await adoptUncovered(store, signer, origin, { ...opts, witnessed, by });
      return { signer, run, newest: options.out ? (await store.readCheckpoints()).at(-1) : undefined };
    } finally {
      await store.close();
    }
  });
  const witnessed = await witnessRun(ctx, options.witness, run);
  if (options.out && !newest)
    throw new UsageError({
      code: 'CHECKPOINT_NOT_FOUND',
      message: `${log} has no checkpoint to write to ${options.out}`,
      hint: `sign in checkpoint mode first: agentkeys sign --log ${log} --checkpoint-every 1000 …`,
    });
  if (options.out) await writeFileAtomic(options.out, newest!);
  printKmsCalls(ctx);
  if (ctx.out.json) printJson({ ok: true, log, signer_kid: signer.kid, ...run, witnessed, out: options.out ?? null });
  else {
    const adopted = run.adopted.length > 0 ? `adopted events ${describeRanges(run.adopted)}; ` : '';
    printLine(`${style.ok('✔')} ${log}: ${adopted}${checkpointSummary(run)}`);
    if (options.witness)
      printLine(style.dim(`  witnessed ${witnessed.length} new checkpoint(s) in ${options.witness}`));
    if (options.out)
      printLine(style.dim(`  newest checkpoint → ${options.out} (audit consistency --old ${options.out})`));
  }
  return 0;
}

/** Who adopts, as the note records it: the operating-system user and host. */
function adopterName(): string {
  const clean = (s: string) => s.replace(/[^A-Za-z0-9._+-]/g, '-').slice(0, 60) || 'unknown';
  return `${clean(userInfo().username)}@${clean(hostname())}`;
}

/** `audit prove`: an inclusion proof bundle for one event. */
export async function runAuditProve(
  options: GlobalOptions & { log?: string; id: string; out?: string; force?: boolean },
): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const log = requireLog(ctx.config);
  if (options.out) await assertNewOutput(options.out, options.force === true);
  const bundle = await withStore(log, {}, (store) => proveInclusion(store, options.id));
  const text = `${JSON.stringify(bundle, null, 2)}\n`;
  if (options.out) {
    await writeFileAtomic(options.out, text);
    if (ctx.out.json)
      printJson({ ok: true, out: options.out, leaf_index: bundle.leaf_index, tree_size: bundle.tree_size });
    else
      printLine(
        `${style.ok('✔')} proof of event ${bundle.leaf_index + 1} in the signed ` +
          `tree of ${bundle.tree_size} → ${options.out}`,
      );
  } else process.stdout.write(text);
  return 0;
}

async function keyLookup(signersPath: RegistryInput) {
  const { keys } = await loadKeyRing(signersPath, {}, 0, 'off');
  const ring = new KeyRing(keys);
  return (kid: string) => {
    const found = ring.lookup(kid);
    return found.ok === true ? found.key : undefined;
  };
}

/** `verify-audit --proof FILE`: the bundle alone, offline, with signers.json. */
export async function runVerifyProof(options: GlobalOptions & { proof: string; signers?: string }): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const text = await readOperatorText(options.proof, { code: 'PROOF_MALFORMED', what: 'proof bundle' });
  const verdict = verifyInclusionBundle(text, await keyLookup(await verifierRegistry(ctx.config)));
  if (ctx.out.json) printJson({ ok: true, ...verdict });
  else {
    printLine(
      `${style.ok('✔')} event ${verdict.id} is leaf ${verdict.leafIndex} of the ` +
        `tree of ${verdict.treeSize} signed by ${verdict.signedBy.join(', ')}`,
    );
    printLine(style.dim(`  origin ${verdict.origin}`));
  }
  return 0;
}

/** `audit consistency`: the log now extends an earlier checkpoint. */
export async function runAuditConsistency(
  options: GlobalOptions & { log?: string; old?: string; oldSize?: string; signers?: string },
): Promise<ExitCode> {
  const ctx = await createContext({ ...options });
  const log = requireLog(ctx.config);
  if ((options.old === undefined) === (options.oldSize === undefined))
    throw new UsageError({
      code: options.old ? 'FLAG_CONFLICT' : 'FLAG_MISSING',
      message: 'audit consistency takes one earlier checkpoint: --old FILE or --old-size N',
      hint: `write one now: agentkeys audit checkpoint --log ${log} --out old.checkpoint`,
    });
  const keyOf = await keyLookup(await verifierRegistry(ctx.config));
  const result = await withStore(log, {}, async (store) => {
    const oldNote = options.old
      ? await readOperatorText(options.old, { code: 'CHECKPOINT_NOT_FOUND', what: 'checkpoint note' })
      : await checkpointAtSize(store, parseWholeNumber(options.oldSize!, '--old-size', { min: 1 }), log);
    return proveConsistency(store, oldNote, keyOf);
  });
  if (ctx.out.json) printJson({ ok: true, ...result });
  else
    printLine(
      `${style.ok('✔')} ${log} extends the checkpoint at ${result.old.size} events: ` +
        `consistent up to ${result.current.size} (${result.proof.length} proof hashes)`,
    );
  return 0;
}

/** The log's own checkpoint at a tree size (audit consistency --old-size N). */
async function checkpointAtSize(store: AuditStore, size: number, log: string): Promise<string> {
  const notes = await store.readCheckpoints();
  const sizes: number[] = [];
  for (const note of notes) {
    try {
      const at = parseCheckpointText(parseNote(note).text).size;
      if (at === size) return note;
      sizes.push(at);
    } catch {
      // A note that does not parse is verify-audit's finding, not a candidate.
    }
  }
  throw new UsageError({
    code: 'CHECKPOINT_NOT_FOUND',
    message: `${log} has no checkpoint at tree size ${size}`,
    hint: sizes.length > 0 ? `its checkpoints are at ${sizes.slice(-8).join(', ')}` : 'sign in checkpoint mode first',
  });
}
