import { digestRow, type AuditRow } from '../audit/record.js';
import { AgentkeysError, UsageError } from '../errors.js';
import type { AuditStore } from './audit-store.js';

export interface ExportResult {
  events: number;
  /** Digest of the last event, computed on the source and read back from the destination. */
  head: string | null;
  /** The first event whose link is broken (1-based), or null: a copy of a broken chain is still broken. */
  firstBrokenLink: number | null;
}

const BATCH = 1000;

/**
 * Copies a chain between any two stores (a file and Postgres, either way) unchanged, in chain
 * order, all or nothing; the head digest is read back from the destination and must equal the source's.
 */
export async function exportChain(
  source: AuditStore,
  dest: AuditStore,
  onProgress?: (events: number) => void,
): Promise<ExportResult> {
  if (source.identity === dest.identity)
    throw new UsageError({
      code: 'EXPORT_SAME_TARGET',
      message: 'source and destination are the same',
      hint: 'name a different --out',
    });
  const sink = await dest.openSink();
  const copied = { events: 0, head: null as string | null, firstBrokenLink: null as number | null };
  try {
    let batch: AuditRow[] = [];
    for await (const row of source.rows()) {
      batch.push(row);
      track(copied, row);
      if (batch.length >= BATCH) {
        await sink.write(batch);
        batch = [];
        onProgress?.(copied.events);
      }
    }
    if (batch.length > 0) await sink.write(batch);
    await sink.commit();
  } catch (err) {
    await sink.abort();
    throw err;
  }
  const readBack = await dest.headDigest();
  if (readBack !== copied.head) {
    throw new AgentkeysError({
      code: 'EXPORT_HEAD_MISMATCH',
      message: `the destination's head is ${readBack ?? 'empty'} but the source's is ${copied.head ?? 'empty'}`,
      hint: 'verify both sides with agentkeys verify-audit',
    });
  }
  return copied;
}

// Rows are copied as they are (evidence), but a broken link is reported, never a clean copy.
function track(copied: ExportResult, row: AuditRow): void {
  copied.events++;
  if (copied.firstBrokenLink === null && row.prev_hash !== copied.head) copied.firstBrokenLink = copied.events;
  copied.head = digestRow(row.payload, row.prev_hash).digest.toString('hex');
}
