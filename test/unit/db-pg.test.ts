import { describe, expect, it } from 'vitest';
import { isoFromPg, redactUrl, splitSchema } from '../../src/db/pg.js';

describe('Postgres text conversions', () => {
  it.each([
    ['2026-11-22 19:28:13.771571+00', '2026-11-22T19:28:13.771571Z'],
    ['2026-11-22 19:28:13.7715+00', '2026-11-22T19:28:13.771500Z'],
    ['2026-11-22 19:28:13.76+00', '2026-11-22T19:28:13.760Z'],
    ['2026-11-22 19:28:13+00', '2026-11-22T19:28:13.000Z'],
  ])('%s → %s', (pg, iso) => expect(isoFromPg(pg)).toBe(iso));

  it('redacts passwords in URLs', () => {
    expect(redactUrl('postgres://user:secret@host:5432/db')).toBe('postgres://user:***@host:5432/db');
    expect(redactUrl('postgres://host/db')).toBe('postgres://host/db');
  });
});

describe('splitSchema', () => {
  it('takes ?schema= out of the URL the driver sees, keeping every other parameter', () => {
    expect(splitSchema('postgres://u@h/db')).toEqual({ url: 'postgres://u@h/db' });
    expect(splitSchema('postgres://u@h/db?schema=agentkeys')).toEqual({
      url: 'postgres://u@h/db',
      schema: 'agentkeys',
    });
    expect(splitSchema('postgres://u@h/db?sslmode=require&schema=ak_2')).toEqual({
      url: 'postgres://u@h/db?sslmode=require',
      schema: 'ak_2',
    });
  });

  it('refuses a schema that is not one plain name (it is written into the session options)', () => {
    for (const bad of ['x;drop', 'Agentkeys', 'a b', '', 'a,public', 'x&schema=y'])
      expect(() => splitSchema(`postgres://u@h/db?schema=${encodeURIComponent(bad)}`), bad).toThrow(
        expect.objectContaining({ code: 'DATABASE_URL_INVALID' }),
      );
    expect(() => splitSchema('postgres://u@h/db?schema=a&schema=b')).toThrow(
      expect.objectContaining({ code: 'DATABASE_URL_INVALID' }),
    );
  });
});
