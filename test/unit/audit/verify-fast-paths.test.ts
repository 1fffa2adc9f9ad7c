// The verifier's fast paths must give exactly what the plain ones give: lines cut as latin1 from
// an ASCII chunk, the chain digest built in a reused buffer, chunks read straight into their own
// buffers (a line longer than a chunk included).
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { chunkLines } from '../../../src/audit/verify-chunk.js';
import type { JsonValue } from '../../../src/audit/canonical.js';
import { chainDigestHex, digestRow } from '../../../src/audit/record.js';
import { readLineChunks } from '../../../src/store/file-chunks.js';

const plain = (text: string) => {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines;
};

describe('verifier fast paths', () => {
  it('chunkLines equals decode-and-split, ASCII or not, with empty and unterminated lines', () => {
    for (const text of ['a\nb\n', 'a\n\nb', '\n', '', 'x', '{"p":"é"}\n{"p":"\u2028"}\n', 'a\r\nb\r\n'])
      expect(chunkLines(Buffer.from(text, 'utf8'))).toEqual(plain(text));
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
});
