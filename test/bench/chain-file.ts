// A synthetic Agent Manager chain in a JSON Lines file, signed with a local Ed25519 key: what the
// verify and Postgres benchmarks measure against.
import { sign, type KeyObject } from 'node:crypto';
import { createWriteStream, writeFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { signCheckpoint } from '../../src/audit/checkpoint.js';
import { CompactRange } from '../../src/audit/merkle.js';
import { LocalKeySigner } from '../../src/signing/signer.js';
import type { JsonValue } from '../../src/audit/canonical.js';
import { digestRow, eventLeafHash, serializeRow } from '../../src/audit/record.js';

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

/**
 * The same events in checkpoint mode: no per-event signature, a C2SP checkpoint every `every`
 * events (and at the end) in `<file>.checkpoints.jsonl`, signed by a local Ed25519 key.
 */
export async function writeCheckpointedBenchChain(
  file: string,
  n: number,
  every: number,
  privateKey: KeyObject,
  payloadOf: (i: number) => { [key: string]: JsonValue },
): Promise<number> {
  const out = createWriteStream(file);
  const signer = new LocalKeySigner('bench', privateKey, 'bench');
  const range = new CompactRange();
  const records: string[] = [];
  let prev: string | null = null;
  let position = 0;
  for (let i = 0; i < n; i++) {
    const payload = payloadOf(i);
    const digest = digestRow(payload, prev).digest.toString('hex');
    const row = {
      id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
      actor_id: 'agent-manager',
      event_type: 'tool_call',
      payload,
      signature: null,
      signer_kid: null,
      prev_hash: prev,
      created_at: new Date(1_700_000_000_000 + i).toISOString(),
    };
    const line = `${serializeRow(row)}\n`;
    position += Buffer.byteLength(line);
    range.appendLeaf(eventLeafHash(row, digest));
    if (!out.write(line)) await new Promise<void>((r) => out.once('drain', () => r()));
    prev = digest;
    if ((i + 1) % every === 0 || i + 1 === n) {
      const note = await signCheckpoint(
        { origin: 'agentkeys.local/bench', size: range.end, root: range.root() },
        signer,
      );
      records.push(JSON.stringify({ size: range.end, position, range: range.toJSON(), note }));
    }
  }
  await new Promise<void>((r) => out.end(r));
  await writeFile(`${file}.checkpoints.jsonl`, `${records.join('\n')}\n`);
  return records.length;
}

/** signers.json with the bench key as signer 'bench'; returns its path. */
export function writeBenchSigners(file: string, publicKey: KeyObject): string {
  const entry = {
    signerId: 'bench',
    algorithm: 'ed25519',
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }),
  };
  writeFileSync(file, JSON.stringify({ signers: [entry] }));
  return file;
}
