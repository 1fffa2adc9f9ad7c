import { describe, expect, it } from 'vitest';
import { assertIJsonValue, parseIJson } from '../../../src/audit/canonical.js';

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
