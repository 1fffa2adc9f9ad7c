// A synthetic Agent Manager chain in a JSON Lines file, signed with a local Ed25519 key: what the
// verify and Postgres benchmarks measure against.
import { sign, type KeyObject } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import type { JsonValue } from '../../src/audit/canonical.js';
import { digestRow, serializeRow } from '../../src/audit/record.js';

export async function writeBenchChain(
  file: string,
  n: number,
  privateKey: KeyObject,
  payloadOf: (i: number) => { [key: string]: JsonValue },
): Promise<void> {
  const out = createWriteStream(file);
  let prev: string | null = null;
  for (let i = 0; i < n; i++) {
    const payload = payloadOf(i);
    const signed = digestRow(payload, prev);
    const row = {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      actor_id: 'agent-manager',
      event_type: 'tool_call',
      payload,
      signature: sign(null, signed.digest, privateKey).toString('base64'),
      signer_kid: 'bench',
      prev_hash: prev,
      created_at: new Date(1_700_000_000_000 + i).toISOString(),
    };
    if (!out.write(`${serializeRow(row)}\n`)) await new Promise<void>((r) => out.once('drain', () => r()));
    prev = signed.digest.toString('hex');
  }
  await new Promise<void>((r) => out.end(r));
}
