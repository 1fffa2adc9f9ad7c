// A file that is not JSON Lines at all (a binary, the wrong --log) reads as that, in one finding,
// while a log with a few bad rows among good ones keeps a finding per row.
import { describe, expect, it } from 'vitest';
import { collapseNotJsonLines, FindingSink, type Finding } from '../../../src/audit/findings.js';

const notJson = (index: number): Finding => ({ index, id: null, code: 'MALFORMED_ROW', message: 'not JSON: x' });
const other = (index: number): Finding => ({ index, id: null, code: 'MALFORMED_ROW', message: 'unknown field(s) a' });

describe('collapseNotJsonLines', () => {
  it('lists the first three lines, then one NOT_JSON_LINES counting every malformed line', () => {
    const list = new FindingSink(5); // past 5 failures, the rest are counted (FINDINGS_OMITTED)
    list.push({ index: 0, id: null, code: 'ANCHOR_MISMATCH', message: 'anchor' });
    for (let i = 1; i <= 50; i++) list.push(notJson(i));
    const out = collapseNotJsonLines(list.list(), 50, 'bin.jsonl');
    expect(out.map((f) => f.code)).toEqual([
      'MALFORMED_ROW',
      'MALFORMED_ROW',
      'MALFORMED_ROW',
      'NOT_JSON_LINES',
      'ANCHOR_MISMATCH',
    ]);
    expect(out[3]!.message).toContain('50 of its 50 lines are malformed');
  });

  it('keeps a finding per row when any of the first lines is JSON', () => {
    const findings = [notJson(1), other(2), notJson(3), notJson(4)];
    expect(collapseNotJsonLines(findings, 10, 'log')).toEqual(findings);
    expect(collapseNotJsonLines([notJson(2), notJson(3), notJson(4)], 10, 'log')).toHaveLength(3);
    expect(collapseNotJsonLines([], 0, 'log')).toEqual([]);
  });

  it('a one-line file of garbage is not JSON Lines either', () => {
    expect(collapseNotJsonLines([notJson(1)], 1, 'one').map((f) => f.code)).toEqual([
      'MALFORMED_ROW',
      'NOT_JSON_LINES',
    ]);
  });
});
