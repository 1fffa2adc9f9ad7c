// Per-row anchors signed every N events: the backward line reader that finds an anchor's head near
// the end (against a plain split, for random files including lines longer than its 64 KiB block),
// and the rule that says when the anchor is due.
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ANCHOR_FORMAT, LEGACY_ANCHOR_FORMAT, type Anchor } from '../../../src/audit/anchor.js';
import { anchorDue } from '../../../src/store/anchor-file.js';
import { linesFromEnd } from '../../../src/store/file-tail.js';
import { tempDir } from '../../helpers/tmp.js';

let state = 99;
const rand = (n: number) => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state % n;
};

describe('linesFromEnd', () => {
  it('yields the lines of any file from last to first, as a split would', async () => {
    const dir = tempDir();
    for (let c = 0; c < 60; c++) {
      const lines = Array.from({ length: rand(40) }, () =>
        'x'.repeat(rand(4) === 0 ? rand(200_000) + 1 : rand(80) + 1).replace(/x/g, () => 'aé"{'[rand(4)]!),
      );
      const text = lines.map((l) => `${l}\n`).join('');
      const file = path.join(dir, `f${c}.jsonl`);
      writeFileSync(file, text);
      const got: string[] = [];
      for await (const line of linesFromEnd(file)) got.push(line);
      expect(got).toEqual([...lines].reverse());
    }
  });
});

describe('anchorDue', () => {
  const at = (events: number, updated: string, format: Anchor['format'] = ANCHOR_FORMAT): Anchor => ({
    format,
    events,
    head: 'a'.repeat(64),
    signer_kid: 'k',
    updated_at: updated,
    signature: '',
  });
  const now = new Date('2026-12-06T12:00:00Z');
  it('is due on every append by default, and when there is no usable v2 anchor', () => {
    expect(anchorDue(at(5, now.toISOString()), 6, {}, now)).toBe(true);
    expect(anchorDue(undefined, 6, { every: 100 }, now)).toBe(true);
    expect(anchorDue(at(5, now.toISOString(), LEGACY_ANCHOR_FORMAT), 6, { every: 100 }, now)).toBe(true);
  });
  it('waits for N events past the anchor, or for the anchor to be T old', () => {
    expect(anchorDue(at(5, now.toISOString()), 7, { every: 3 }, now)).toBe(false);
    expect(anchorDue(at(5, now.toISOString()), 8, { every: 3 }, now)).toBe(true);
    expect(anchorDue(at(5, '2026-12-06T11:59:30Z'), 6, { intervalMs: 60_000 }, now)).toBe(false);
    expect(anchorDue(at(5, '2026-12-06T11:58:59Z'), 6, { intervalMs: 60_000 }, now)).toBe(true);
    expect(anchorDue(at(5, '2026-12-06T11:58:59Z'), 6, { every: 10, intervalMs: 60_000 }, now)).toBe(true);
  });
});
