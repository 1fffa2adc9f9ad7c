import { describe, expect, it } from 'vitest';
import { adviseRotation, DEFAULT_ROTATION_POLICY, type KeyDescription } from '../../../src/signing/kms-keys.js';

const key = (ageDays: number, rotation: KeyDescription['rotation'] = { supported: false, reason: 'ECC' }) =>
  ({ keyArn: 'arn:k', ageDays, rotation }) as KeyDescription;

describe('rotation policy (seed 001: 90-day interval, 365-day maximum age)', () => {
  it.each([
    [0, false, false],
    [89, false, false],
    [90, true, false],
    [364, true, false],
    [365, true, true],
  ])('a key %i days old: rotate=%s, past max age=%s', (age, rotate, past) => {
    const advice = adviseRotation(key(age), DEFAULT_ROTATION_POLICY);
    expect([advice.shouldRotate, advice.pastMaxAge]).toEqual([rotate, past]);
  });

  it('a symmetric key KMS rotates is never due, whatever its age', () => {
    const advice = adviseRotation(
      key(400, { supported: true, enabled: true, periodDays: 90, nextRotation: '2027-01-01T00:00:00.000Z' }),
      DEFAULT_ROTATION_POLICY,
    );
    expect(advice).toMatchObject({
      shouldRotate: false,
      reason: '400 days old: KMS rotates it every 90 days, next 2027-01-01',
    });
  });
});
