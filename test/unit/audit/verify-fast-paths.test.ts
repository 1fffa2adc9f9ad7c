// The verifier's fast paths must give exactly what the plain ones give: lines cut as latin1 from
// an ASCII chunk, the chain digest built in a reused buffer, chunks read straight into their own
// buffers (a line longer than a chunk included).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkLines } from '../../../src/audit/verify-chunk.js';
import type { JsonValue } from '../../../src/audit/canonical.js';
import {
  chainDigestHex,
  digestRow,
  eventLeafBinary,
  eventLeafHash,
  serializeRow,
  type AuditRow,
} from '../../../src/audit/record.js';
import { CompactRange, leafHash, subtreeRoot, toBinaryHash } from '../../../src/audit/merkle.js';
import { randomBytes } from 'node:crypto';
import { readLineChunks } from '../../../src/store/file-chunks.js';
import { SpareBuffers } from '../../../src/audit/line-chunks.js';
import { verifyChain } from '../../../src/audit/verify-log.js';

const plain = (text: string) => {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
};

describe('verifier fast paths', () => {
  it('serializeRow writes the payload in canonical form and the line parses back to the row', () => {
    const row: AuditRow = {
      id: 'e1',
      actor_id: null,
      event_type: 't',
      payload: { z: 1, a: { y: [2, { c: 'é', b: null }], '10': 0, '9': 1 } },
      signature: null,
      signer_kid: 'k',
      prev_hash: null,
      created_at: '2026-12-03T00:00:00.000Z',
    };
    const line = serializeRow(row);
    expect(line).toBe(
      '{"id":"e1","actor_id":null,"event_type":"t","payload":{"a":{"10":0,"9":1,"y":[2,{"b":null,"c":"é"}]},"z":1},' +
        '"signature":null,"signer_kid":"k","prev_hash":null,"created_at":"2026-12-03T00:00:00.000Z"}',
    );
    expect(JSON.parse(line)).toEqual(row);
    expect(Buffer.from(eventLeafBinary(row, 'ab'.repeat(32)), 'latin1')).toEqual(eventLeafHash(row, 'ab'.repeat(32)));
  });

  it('a compact range of binary leaves has the root of one from Buffers and of the RFC 6962 recursion', () => {
    const leaves = Array.from({ length: 37 }, () => leafHash(randomBytes(9)));
    const fromBuffers = new CompactRange();
    const fromBinary = new CompactRange();
    for (const leaf of leaves) {
      fromBuffers.appendLeaf(leaf);
      fromBinary.appendLeafBinary(toBinaryHash(leaf));
    }
    expect(fromBinary.root()).toEqual(subtreeRoot(leaves));
    expect(fromBuffers.root()).toEqual(subtreeRoot(leaves));
    expect(CompactRange.fromJSON(fromBinary.toJSON()).root()).toEqual(subtreeRoot(leaves));
    const bad = { begin: 0, nodes: [{ level: 0, hash: 'abc' }] };
    expect(() => CompactRange.fromJSON(bad)).toThrow(expect.objectContaining({ code: 'MERKLE_PROOF_INVALID' }));
  });

  it('ChunkLines equals decode-and-split, ASCII or not, with empty and unterminated lines', () => {
    for (const text of ['a\nb\n', 'a\n\nb', '\n', '', 'x', '{"p":"é"}\n{"p":"\u2028"}\n', 'a\r\nb\r\n'])
      expect(allLines(new ChunkLines(Buffer.from(text, 'utf8')))).toEqual(plain(text));
  });

  it('chainDigestHex equals digestRow, for long and non-ASCII payloads and genesis', () => {
    const prev = 'ab'.repeat(32);
    const payloads: JsonValue[] = [{ a: 1 }, { s: 'é😀'.repeat(10) }, { big: 'x'.repeat(200_000) }, []];
    for (const payload of payloads)
      for (const p of [prev, null])
        expect(chainDigestHex(payload, p)).toBe(digestRow(payload, p).digest.toString('hex'));
  });

  it('readLineChunks gives whole lines in order, counting them, also for a line longer than a chunk', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-chunks-'));
    const lines = ['short', 'y'.repeat(300), 'é'.repeat(50), 'last-without-newline'];
    const file = path.join(dir, 'log.jsonl');
    writeFileSync(file, lines.join('\n'));
    const seen: string[] = [];
    let counted = 0;
    for await (const chunk of readLineChunks(file, 64)) {
      seen.push(...plain(Buffer.from(chunk.bytes).toString('utf8')));
      counted += chunk.lines;
    }
    expect(seen).toEqual(lines);
    expect(counted).toBe(lines.length);
  });

  it('readLineChunks fills buffers given back again and still gives every line once', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-chunks-'));
    const lines = Array.from({ length: 200 }, (_, i) => `line ${i} ${'z'.repeat(i % 37)}`);
    const file = path.join(dir, 'log.jsonl');
    writeFileSync(file, `${lines.join('\n')}\n`);
    const spare = new SpareBuffers();
    const buffers = new Set<ArrayBufferLike>();
    const seen: string[] = [];
    for await (const chunk of readLineChunks(file, 256, spare)) {
      seen.push(...plain(Buffer.from(chunk.bytes).toString('utf8')));
      buffers.add(chunk.bytes.buffer);
      spare.give(chunk.bytes.buffer as ArrayBuffer);
    }
    expect(seen).toEqual(lines);
    expect(buffers.size).toBeLessThanOrEqual(2);
  });

  it('SpareBuffers keeps buffers only for a reader that takes them (a Postgres source never does)', () => {
    const unused = new SpareBuffers();
    const early = new ArrayBuffer(64);
    unused.give(early);
    expect(unused.take(16, 32).buffer).not.toBe(early);
    const back = new ArrayBuffer(64);
    unused.give(back);
    expect(unused.take(16, 32).buffer).toBe(back);
    unused.give(new ArrayBuffer(8));
    expect(unused.take(16, 32).byteLength).toBe(32); // too small: a new one
  });

  it('a verification of a multi-chunk log with workers gives the same report with spare buffers', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'agentkeys-chunks-'));
    const file = path.join(dir, 'log.jsonl');
    let prev: string | null = null;
    const rows: string[] = [];
    for (let i = 0; i < 3000; i++) {
      const payload = { i, note: 'n'.repeat(i % 50) };
      const row: AuditRow = {
        id: `e${i}`,
        actor_id: null,
        event_type: 't',
        payload,
        signature: null,
        signer_kid: null,
        prev_hash: prev,
        created_at: '2026-12-03T00:00:00.000Z',
      };
      rows.push(serializeRow(row));
      prev = digestRow(payload, prev).digest.toString('hex');
    }
    writeFileSync(file, `${rows.join('\n')}\n`);
    const keys = { signers: [], rejected: {}, hmacSecrets: {}, slackMs: 0 };
    const plainRun = await verifyChain(readLineChunks(file, 1 << 14), { keys, workers: 2 });
    // Counts what the workers hand back: every chunk's buffer, to be read into again.
    let given = 0;
    const spare = new (class extends SpareBuffers {
      override give(buffer: ArrayBuffer): void {
        given++;
        super.give(buffer);
      }
    })();
    let chunks = 0;
    const counted = async function* () {
      for await (const chunk of readLineChunks(file, 1 << 14, spare)) yield (chunks++, chunk);
    };
    const reused = await verifyChain(counted(), { keys, workers: 2, spare });
    expect(reused).toEqual(plainRun);
    expect(chunks).toBeGreaterThan(4);
    expect(given).toBe(chunks);
    expect(reused.events).toBe(3000);
    expect(reused.head).toBe(prev);
  });
});

function allLines(lines: ChunkLines): string[] {
  const out: string[] = [];
  for (let line = lines.next(); line !== undefined; line = lines.next()) out.push(line);
  return out;
}
