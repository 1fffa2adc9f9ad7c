import type { ChainHead } from '../src/audit/chain.js';
import type { CheckpointPolicy, CheckpointRun } from '../src/audit/checkpointing.js';
import { parseDurationMs } from '../src/audit/query.js';
import type { AuditRow } from '../src/audit/record.js';
import { parseBatch, singleEvent } from '../src/audit/event-input.js';
import { UsageError, type ExitCode } from '../src/errors.js';
import { openSigner, printKmsCalls, withKmsTrail } from './kms-support.js';
import { openStore, type AuditStore } from '../src/store/store.js';
import { parseAnchor } from '../src/audit/anchor.js';
import { requireLog } from '../src/config/load.js';
import { redactUrl } from '../src/db/pg.js';
import { createContext, writerStoreOptions, type GlobalOptions } from './context.js';
import { printJson, printLine, style } from './ui/format.js';
import { count, progressLine } from './ui/progress.js';
import { checkpointSummary } from './ui/checkpoint-summary.js';
import { appendCheckpointed, appendSigned, witnessRun } from './audit-writer.js';
import { parseWitnessUrl } from '../src/store/witness.js';
import { parseWholeNumber } from './options.js';
import { kmsCostPerMillion, KMS_ASYMMETRIC_USD_PER_10K } from '../src/audit/cost.js';
import { KmsSigner } from '../src/signing/kms-signer.js';
import type { AnchorPolicy } from '../src/store/anchor-file.js';
import { readOperatorText } from '../src/sys/operator-file.js';

export interface SignOptions extends GlobalOptions {
  log?: string;
  key?: string;
  signerKid?: string;
  eventType?: string;
  actor?: string;
  payload?: string;
  batch?: boolean;
  checkpointEvery?: string;
  checkpointInterval?: string;
  origin?: string;
  witness?: string;
  adopt?: boolean;
  anchorEvery?: string;
  anchorInterval?: string;
}

export async function runSign(options: SignOptions): Promise<ExitCode> {
  const ctx = await createContext({ ...options }, { keyIsSigningKey: true });
  const defaults = {
    ...(options.eventType ? { eventType: options.eventType } : {}),
    ...(options.actor ? { actor: options.actor } : {}),
  };
  if (options.batch && options.payload !== undefined) {
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: '--batch reads the events from stdin; --payload would be ignored',
      hint: 'use one: --payload JSON for one event, or --batch < events.jsonl',
    });
  }
  const events = options.batch
    ? parseBatch(await readStdin(), defaults)
    : singleEvent(await readPayload(options.payload), defaults);
  const log = requireLog(ctx.config);
  const checkpoints = checkpointPolicy(options);
  const anchorPolicy = anchorPolicyOf(options, checkpoints !== undefined);
  if (options.witness) parseWitnessUrl(options.witness); // a bad URL fails before anything is written
  const {
    signer,
    rows,
    head,
    checkpointed,
    witnessed: anchorWitnessed,
    anchored,
  } = await withKmsTrail(ctx, async () => {
    const signer = await openSigner(ctx);
    const progress = progressLine(ctx.out);
    const store = openStore(log, {
      ...writerStoreOptions(ctx),
      onWait: () => progress.update(`  waiting for the lock on ${log} (another writer holds it)…`),
      ...(options.adopt ? { adopt: true } : {}),
    });
    if (anchorPolicy.anchorPolicy && !store.anchorPath)
      throw new UsageError({
        code: 'FLAG_CONFLICT',
        message: '--anchor-every/--anchor-interval set the anchor of a file log; a Postgres log keeps none',
        hint: 'drop the anchor flags, or use checkpoint mode there (--checkpoint-every N)',
      });
    const list = Array.isArray(events) ? events : [events];
    const onProgress = (n: number, total: number) => progress.update(`  signing ${count(n)}/${count(total)} events…`);
    const result: { rows: AuditRow[]; head: ChainHead; checkpointed?: CheckpointRun; witnessed?: string[] } = await (
      checkpoints
        ? appendCheckpointed(ctx, store, signer, list, checkpoints, options.witness)
        : appendSigned(ctx, store, signer, list, { onProgress, ...anchorPolicy }, options.witness)
    ).finally(() => {
      progress.done();
      return store.close();
    });
    return { signer, ...result, anchored: checkpoints ? undefined : await anchoredEvents(store) };
  });
  const written = checkpointed ? await witnessRun(ctx, options.witness, checkpointed) : (anchorWitnessed ?? []);
  printKmsCalls(ctx);
  if (ctx.out.json) {
    printJson({
      ok: true,
      log: redactUrl(log),
      signer_kid: signer.kid,
      algorithm: signer.alg,
      appended: rows.map((r) => r.id),
      events: head.events,
      head: head.prevHash,
      ...(anchored !== undefined ? { anchored } : {}),
      ...(checkpointed ? { checkpoints: withoutNotes(checkpointed) } : {}),
      ...(options.witness ? { witnessed: written } : {}),
      ...(signer instanceof KmsSigner
        ? {
            kmsCost: kmsCost(checkpoints, anchorPolicy.anchorPolicy),
            // What this run really sent to KMS, by operation (metadata and public key reads included).
            kmsRequests: Object.fromEntries(ctx.services.kmsCalls),
          }
        : {}),
    });
  } else {
    const first = head.events - rows.length + 1;
    const range = rows.length === 1 ? `event ${first}` : `events ${first}-${head.events}`;
    const how = checkpointed ? 'appended' : 'signed';
    const by = checkpointed ? `in checkpoint mode, checkpoints by ${signer.kid}` : `with ${signer.kid}`;
    printLine(`${style.ok('✔')} ${how} ${rows.length} event(s) ${by} (${signer.alg}) → ${redactUrl(log)}, ${range}`);
    printLine(style.dim(`  head ${head.prevHash}`));
    if (checkpointed) printLine(style.dim(`  ${checkpointSummary(checkpointed)}`));
    if (anchored !== undefined && anchored < head.events)
      printLine(style.dim(`  anchor at event ${anchored}: ${head.events - anchored} event(s) wait for the next`));
  }
  return 0;
}

/** The events the signed anchor beside a file log covers now (a database keeps none). */
async function anchoredEvents(store: AuditStore): Promise<number | undefined> {
  const found = store.anchorPath ? await store.readAnchor() : undefined;
  const anchor = found && parseAnchor(found.text);
  return typeof anchor === 'object' ? anchor.events : undefined;
}

async function readPayload(payload: string | undefined): Promise<string> {
  if (payload === undefined)
    throw new UsageError({
      code: 'PAYLOAD_MISSING',
      message: 'no --payload given',
      hint: `pass --payload '{"k":"v"}', --payload @file.json, --payload - (stdin), or --batch`,
    });
  if (payload === '-') return readStdin();
  if (payload.startsWith('@')) {
    return readOperatorText(payload.slice(1), { code: 'PAYLOAD_UNREADABLE', what: 'payload file' });
  }
  return payload;
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY)
    throw new UsageError({
      code: 'STDIN_IS_TTY',
      message: 'expected events on stdin, but stdin is a terminal',
      hint: 'pipe them in: cat events.jsonl | agentkeys sign --batch …',
    });
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Checkpoint mode when either flag is given: every N events, and at the end unless one is younger than T. */
function checkpointPolicy(options: SignOptions): CheckpointPolicy | undefined {
  if (!options.checkpointEvery && !options.checkpointInterval) return undefined;
  return {
    ...(options.origin ? { origin: options.origin } : {}),
    ...(options.checkpointEvery
      ? { every: parseWholeNumber(options.checkpointEvery, '--checkpoint-every', { min: 1 }) }
      : {}),
    ...(options.checkpointInterval
      ? { minIntervalMs: parseDurationMs(options.checkpointInterval, '--checkpoint-interval') }
      : {}),
  };
}

/**
 * Per-row mode's anchor cadence: --anchor-every N and --anchor-interval T. The anchor is a file
 * beside a file log; checkpoint mode and Postgres keep none, so the flags would do nothing there.
 */
function anchorPolicyOf(options: SignOptions, checkpointMode: boolean): { anchorPolicy?: AnchorPolicy } {
  if (!options.anchorEvery && !options.anchorInterval) return {};
  if (checkpointMode)
    throw new UsageError({
      code: 'FLAG_CONFLICT',
      message: '--anchor-every/--anchor-interval set the per-row anchor; checkpoint mode signs checkpoints instead',
      hint: 'use --checkpoint-every/--checkpoint-interval alone',
    });
  return {
    anchorPolicy: {
      ...(options.anchorEvery ? { every: parseWholeNumber(options.anchorEvery, '--anchor-every', { min: 1 }) } : {}),
      ...(options.anchorInterval ? { intervalMs: parseDurationMs(options.anchorInterval, '--anchor-interval') } : {}),
    },
  };
}

/**
 * What this way of signing costs in KMS at a million events (per-row: one Sign each, and one per
 * anchor). With only an interval, the count follows time, not events: at most one closing
 * checkpoint (or anchor) per interval.
 */
function kmsCost(checkpoints: CheckpointPolicy | undefined, anchors?: AnchorPolicy) {
  const usdPer10kRequests = KMS_ASYMMETRIC_USD_PER_10K;
  if (!checkpoints) {
    const { requests, usd } = kmsCostPerMillion('per-row', anchors?.every);
    return {
      mode: 'per-row' as const,
      perMillionEvents: { kmsRequests: requests, usd },
      // Without --anchor-every the anchor is re-signed once per sign call, however many events it carries.
      anchors: anchors?.every
        ? `one Sign per ${anchors.every} events`
        : anchors?.intervalMs
          ? `at most one Sign per ${anchors.intervalMs / 1000}s of calls`
          : 'one Sign per sign call',
      usdPer10kRequests,
    };
  }
  if (checkpoints.minIntervalMs && !checkpoints.every) {
    const perHour = Math.ceil(3_600_000 / checkpoints.minIntervalMs);
    return { mode: 'checkpoint' as const, atMostKmsRequestsPerHourOfCalls: perHour, usdPer10kRequests };
  }
  const { requests, usd } = kmsCostPerMillion('checkpoint', checkpoints.every);
  return { mode: 'checkpoint' as const, perMillionEvents: { kmsRequests: requests, usd }, usdPer10kRequests };
}

/** The run as --json shows it: the notes themselves are in the checkpoint file (and the witness). */
function withoutNotes({ notes: _notes, ...run }: CheckpointRun) {
  return run;
}
