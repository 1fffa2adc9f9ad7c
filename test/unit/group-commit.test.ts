import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/store/group-commit.js';

describe('group commit', () => {
  it('a caller alone is written at once; callers arriving meanwhile share the next write, each gets its own outputs', async () => {
    const writes: number[][] = [];
    const group = new GroupCommit<number, number>(async (items) => {
      writes.push(items);
      await new Promise((r) => setTimeout(r, 20));
      return items.map((n) => n * 10);
    });
    const results = await Promise.all([group.submit([1]), group.submit([2, 3]), group.submit([4]), group.submit([5])]);
    expect(results).toEqual([[10], [20, 30], [40], [50]]);
    expect(writes).toEqual([[1], [2, 3, 4, 5]]);
  });

  it('a failed write fails every caller in it, and the next batch still runs', async () => {
    let calls = 0;
    const group = new GroupCommit<number, number>(async (items) => {
      calls++;
      await new Promise((r) => setTimeout(r, 5));
      if (calls === 2) throw new Error('boom');
      return items;
    });
    const first = group.submit([1]);
    const second = [group.submit([2]), group.submit([3])];
    await expect(first).resolves.toEqual([1]);
    await expect(Promise.all(second)).rejects.toThrow('boom');
    await expect(group.submit([4])).resolves.toEqual([4]);
  });
});
