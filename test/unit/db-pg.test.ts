import { describe, expect, it } from 'vitest';
import { isoFromPg, redactUrl } from '../../src/db/pg.js';

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
