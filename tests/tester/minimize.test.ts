import { describe, expect, it } from 'vitest';
import { oneMinimal } from '../../src/tester/minimize.js';

describe('oneMinimal', () => {
  it('removes every command the failure does not need, and no other', async () => {
    // Fails when 3 comes before 7 (an order-dependent bug): everything else is noise.
    const fails = async (xs: readonly number[]) => {
      const i = xs.indexOf(3);
      return i >= 0 && xs.indexOf(7) > i;
    };
    const result = await oneMinimal([1, 3, 4, 5, 7, 8, 3], fails);
    expect(result.commands).toEqual([3, 7]);
    expect(result.complete).toBe(true);
    expect(result.removed).toBe(5);
  });

  it('the result is 1-minimal: removing any one command makes it pass', async () => {
    const fails = async (xs: readonly number[]) => xs.filter((x) => x % 2 === 0).length >= 2;
    const result = await oneMinimal([1, 2, 3, 4, 5, 6], fails);
    expect(await fails(result.commands)).toBe(true);
    for (let i = 0; i < result.commands.length; i++) {
      expect(await fails(result.commands.filter((_, j) => j !== i))).toBe(false);
    }
  });

  it('stops at its budget and says so', async () => {
    const result = await oneMinimal([1, 2, 3, 4, 5], async () => false, {
      maxAttempts: 2,
      timeBudgetMs: 10_000,
    });
    expect(result.attempts).toBe(2);
    expect(result.complete).toBe(false);
    expect(result.commands).toEqual([1, 2, 3, 4, 5]);
  });
});

describe('oneMinimal with simpler versions', () => {
  it('replaces a command by a simpler one when the failure stays', async () => {
    // "Commands" are lists of numbers (a batch); it fails while any holds 7.
    const fails = async (xs: readonly (readonly number[])[]) => xs.some((x) => x.includes(7));
    const parts = (x: readonly number[]) => (x.length > 1 ? x.map((n) => [[n]]) : []);
    const result = await oneMinimal(
      [[1], [2, 7, 3], [4]],
      fails,
      { maxAttempts: 50, timeBudgetMs: 10_000 },
      parts,
    );
    expect(result.commands).toEqual([[7]]);
  });
});
