import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyChain } from '../../../src/audit/verify-log.js';
import { readLineChunks } from '../../../src/store/file-chunks.js';
import { amBuildChain } from '../../fixtures/agent-manager-reference.js';
import { tempDir } from '../../helpers/tmp.js';

/** A key ring holding one Ed25519 signer 'k'. */
function keyRingOf(publicKey: KeyObject) {
  const entry = {
    signerId: 'k',
    algorithm: 'ed25519' as const,
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
  return { signers: [entry], rejected: {}, hmacSecrets: {}, slackMs: 0 };
}

describe('parallel verification', () => {
  it('finds the same problems, across chunk boundaries, with 0 and 2 workers', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const rows = amBuildChain(
      Array.from({ length: 400 }, (_, i) => ({ i, pad: 'x'.repeat(i % 50) })),
      { alg: 'ed25519', privateKey },
      'k',
    );
    rows[57]!.payload = { changed: true };
    rows.splice(200, 1); // a deleted event in the middle
    const lines = rows.map((r) => JSON.stringify(r));
    lines[300] = '{broken';
    const log = path.join(tempDir(), 'a.jsonl');
    writeFileSync(log, lines.join('\n')); // no final newline: the last line still counts
    const keys = keyRingOf(publicKey);
    const inline = await verifyChain(readLineChunks(log, 4096), { keys, workers: 0 });
    const parallel = await verifyChain(readLineChunks(log, 4096), { keys, workers: 2 });
    expect(parallel.findings).toEqual(inline.findings);
    expect(parallel.head).toBe(inline.head);
    expect(inline.events).toBe(399);
    expect(inline.findings.map((f) => [f.index, f.code])).toEqual([
      [58, 'SIGNATURE_INVALID'],
      [59, 'PREV_HASH_MISMATCH'],
      [201, 'PREV_HASH_MISMATCH'],
      [301, 'MALFORMED_ROW'],
    ]);
  });

  it('a line bigger than a worker takes (6 MiB) is verified on the calling thread, the rest in workers', async () => {
    const { privateKey, publicKey } = generateKeyPairSync('ed25519');
    const payloads = Array.from({ length: 50 }, (_, i) => ({ i, blob: i === 20 ? 'y'.repeat(6 << 20) : '' }));
    const rows = amBuildChain(payloads, { alg: 'ed25519', privateKey }, 'k');
    const log = path.join(tempDir(), 'big.jsonl');
    writeFileSync(log, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const keys = keyRingOf(publicKey);
    const report = await verifyChain(readLineChunks(log, 1 << 16), { keys, workers: 2 });
    expect({ ok: report.ok, events: report.events, findings: report.findings }).toEqual({
      ok: true,
      events: 50,
      findings: [],
    });
  });
});
