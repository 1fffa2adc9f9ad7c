import { describe, expect, it } from 'vitest';
import * as jcs from 'canonicalize';
import { assertIJsonValue, canonicalJson, parseIJson, type JsonValue } from '../../../src/audit/canonical.js';

const code = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return (err as { code: string }).code;
  }
  return 'none';
};

describe('I-JSON gate', () => {
  it.each([
    ['{"a":"\\udc00"}', 'PAYLOAD_NOT_IJSON'],
    ['{"\\ud83d":1}', 'PAYLOAD_NOT_IJSON'],
    ['[-9007199254740992]', 'PAYLOAD_NOT_IJSON'],
    ['{"a":{"b":1,"b":1}}', 'PAYLOAD_NOT_IJSON'],
    ['[1e999]', 'PAYLOAD_NOT_IJSON'],
    ['['.repeat(300) + ']'.repeat(300), 'PAYLOAD_NOT_IJSON'],
    ['', 'PAYLOAD_NOT_JSON'],
    ['{"a":1}', 'none'],
    ['{"a":"😀","b":9007199254740991,"c":1.5e300,"d":"\\"x\\":1"}', 'none'],
    ['{"a":{"b":1},"c":{"b":2}}', 'none'],
  ])('%s → %s', (text, expected) => expect(code(() => parseIJson(text))).toBe(expected));

  it('refuses values that are not plain JSON (what broke Agent Manager signatures)', () => {
    expect(code(() => assertIJsonValue({ d: new Date() }))).toBe('PAYLOAD_NOT_IJSON');
    expect(code(() => assertIJsonValue({ u: undefined }))).toBe('PAYLOAD_NOT_IJSON');
    expect(code(() => assertIJsonValue({ n: 10n }))).toBe('PAYLOAD_NOT_IJSON');
    expect(code(() => assertIJsonValue({ n: Number.NaN }))).toBe('PAYLOAD_NOT_IJSON');
  });
});

// canonicalJson takes JSON.stringify where every object's keys are already sorted; the library
// (canonicalize, RFC 8785) is the oracle for both paths, on random values and on the edge cases.
describe('canonicalJson fast path', () => {
  const library = (jcs as unknown as { default: (v: unknown) => string }).default;
  const keys = ['a', 'b', 'B', 'aa', '1', '10', '9', '__proto__', 'é', '😀', '\u0000', 'z'];
  const scalars = [0, -0, 1.5, 1e21, 1e-7, -123456789, 9007199254740991, 'x', '"\\\n\u2028', '😀', true, false, null];
  let seed = 7;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed % n;
  };
  const value = (depth: number): JsonValue => {
    const kind = depth > 3 ? 0 : rand(4);
    if (kind === 0) return scalars[rand(scalars.length)]!;
    if (kind === 1) return Array.from({ length: rand(4) }, () => value(depth + 1));
    const picked = [...new Set(Array.from({ length: rand(5) }, () => keys[rand(keys.length)]!))];
    if (kind === 2) picked.sort();
    const object: Record<string, JsonValue> = {};
    for (const key of picked) Object.defineProperty(object, key, { value: value(depth + 1), enumerable: true });
    return object;
  };

  it('equals the library on 5,000 random values, sorted and unsorted, and after a round trip', () => {
    let fast = 0;
    for (let i = 0; i < 5000; i++) {
      const v = value(0);
      const text = canonicalJson(v);
      expect(text).toBe(library(v));
      expect(canonicalJson(JSON.parse(text) as JsonValue)).toBe(text);
      if (text === JSON.stringify(v)) fast++;
    }
    expect(fast).toBeGreaterThan(1000);
  });

  it('equals the library where JSON.stringify alone would not', () => {
    const cases: JsonValue[] = [
      { b: 1, a: 2 },
      { '10': 1, '9': 2 },
      { a: [{ d: 1, c: 2 }] },
      JSON.parse('['.repeat(250) + ']'.repeat(250)) as JsonValue,
      [1, 'x', { y: -0 }],
    ];
    for (const v of cases) expect(canonicalJson(v)).toBe(library(v));
  });

  it('refuses nesting past 256 by name, where the library would overflow the stack (issue 23)', () => {
    for (const depth of [300, 20_000]) {
      const deep = JSON.parse('['.repeat(depth) + ']'.repeat(depth)) as JsonValue;
      expect(() => canonicalJson(deep)).toThrow(expect.objectContaining({ code: 'PAYLOAD_NOT_IJSON' }));
    }
  });
});
