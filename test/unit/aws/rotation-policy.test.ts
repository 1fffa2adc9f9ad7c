import { describe, expect, it } from 'vitest';
import { adviseRotation, DEFAULT_ROTATION_POLICY, type KeyDescription } from '../../../src/aws/keys.js';

const key = (ageDays: number) => ({ keyArn: 'arn:k', ageDays }) as KeyDescription;

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
});
