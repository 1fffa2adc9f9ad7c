// The error codes are a contract: one typed list (src/error-codes.ts), no duplicates, no dead entries.
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '../../src/error-codes.js';

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const full = path.join(dir, name);
    return statSync(full).isDirectory() ? files(full) : full.endsWith('.ts') ? [full] : [];
  });
}

describe('error codes', () => {
  it('are unique SCREAMING_SNAKE identifiers', () => {
    expect(new Set(ERROR_CODES).size).toBe(ERROR_CODES.length);
    expect(ERROR_CODES.filter((c) => !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)*$/.test(c))).toEqual([]);
  });

  it('every listed code is raised somewhere (no dead entries)', () => {
    const source = [...files('src'), ...files('commands'), ...files('bin')]
      .filter((f) => !f.endsWith('error-codes.ts'))
      .map((f) => readFileSync(f, 'utf8'))
      .join('\n');
    expect(ERROR_CODES.filter((c) => !source.includes(`'${c}'`))).toEqual([]);
  });
});
