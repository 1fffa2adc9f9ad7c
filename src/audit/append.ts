import type { AuditSigner } from '../signing/signer.js';
import type { VerificationKey } from '../signing/verify.js';
import { signAndCheck } from '../signing/signer.js';
import type { ChainAppender, ChainHead } from './chain.js';
import { assertIJsonValue } from './canonical.js';
import { digestRow, newRowId, type AuditRow, type NewEvent } from './record.js';

export interface AppendResult {
  rows: AuditRow[];
  head: ChainHead;
}

/** How a per-row append runs: its clock, the keys it trusts, the anchor's cadence, progress. */
export interface AppendOptions {
  now?: () => Date;
  /** Keys trusted for the anchor already there (the registry); the signer's own key always counts. */
  keyOf?: (kid: string) => VerificationKey | undefined;
  /** Anchors a witness holds for this log (sign --witness in per-row mode). */
  witnessedAnchors?: readonly string[];
  /** How often the anchor is re-signed (sign --anchor-every/--anchor-interval); default every append. */
  anchorPolicy?: { every?: number; intervalMs?: number };
  /** Called every PROGRESS_EVERY signed events of a large batch. */
  onProgress?: (signed: number, total: number) => void;
}

const PROGRESS_EVERY = 1000;
const YIELD_EVERY_MS = 100;

/**
 * Links and signs events onto the chain exactly as Agent Manager does (prev_hash from the current
 * head, digest over canonical payload ‖ prev bytes), with two differences: every signature is
 * checked before anything is written, and nothing is written unless every event signed.
 */
export async function appendSignedEvents(
  store: ChainAppender,
  signer: AuditSigner,
  events: readonly NewEvent[],
  opts: AppendOptions = {},
): Promise<AppendResult> {
  for (const e of events) assertIJsonValue(e.payload);
  let rows: AuditRow[] = [];
  const head = await store.append(
    async (current) => {
      rows = await signEvents(signer, events, current.prevHash, opts);
      return rows;
    },
    {
      signer,
      ...(opts.keyOf ? { keyOf: opts.keyOf } : {}),
      witnessed: opts.witnessedAnchors ?? [],
      ...(opts.anchorPolicy ? { policy: opts.anchorPolicy } : {}),
    },
  );
  return { rows, head };
}

async function signEvents(
  signer: AuditSigner,
  events: readonly NewEvent[],
  start: string | null,
  opts: AppendOptions,
): Promise<AuditRow[]> {
  const now = opts.now ?? (() => new Date());
  const rows: AuditRow[] = [];
  let prevHash = start;
  let turn = performance.now();
  for (const event of events) {
    if (opts.onProgress && rows.length % PROGRESS_EVERY === 0 && rows.length > 0)
      opts.onProgress(rows.length, events.length);
    // A local key signs synchronously: without a turn of the event loop now and then, the file
    // lock's refresh timer never runs during a large batch, and another writer takes a lock it
    // thinks is stale.
    if (performance.now() - turn > YIELD_EVERY_MS) {
      await new Promise((resolve) => setImmediate(resolve));
      turn = performance.now();
    }
    const signed = digestRow(event.payload, prevHash);
    const signature = await signAndCheck(signer, signed);
    rows.push({
      id: newRowId(),
      actor_id: event.actor_id,
      event_type: event.event_type,
      payload: event.payload,
      signature: signature.toString('base64'),
      signer_kid: signer.kid,
      prev_hash: prevHash,
      created_at: now().toISOString(),
    });
    prevHash = signed.digest.toString('hex');
  }
  return rows;
}
