import { describe, expect, it } from 'vitest';
import { describeMinimality, minimizeBudgetMs, oneMinimal } from '../../src/tester/minimize.js';

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

describe('what the pass spends', () => {
  it('replays a removal `replays` times before keeping its step, a simpler version once', async () => {
    // Every candidate passes: the one command stays, and neither it nor its two simpler versions
    // take the place of the original.
    const tried: string[] = [];
    const result = await oneMinimal(
      ['ab', 'c'],
      async (xs) => {
        tried.push(xs.join('|'));
        return false;
      },
      { maxAttempts: 100, timeBudgetMs: 10_000, replays: 3 },
      (x) => (x.length > 1 ? [[x[0] as string], [x[1] as string]] : []),
    );
    expect(result.commands).toEqual(['ab', 'c']);
    expect(result.undecided).toEqual([]);
    // Removing 'c' 3 times, removing 'ab' 3 times, then 'a|c' and 'b|c' once each.
    expect(tried).toEqual(['ab', 'ab', 'ab', 'c', 'c', 'c', 'a|c', 'b|c']);
  });

  it('is bounded by a quarter of the time the failure took to find, between 5 and 90 s', () => {
    expect(minimizeBudgetMs(1_000)).toBe(5_000);
    expect(minimizeBudgetMs(100_000)).toBe(25_000);
    expect(minimizeBudgetMs(1_000_000)).toBe(90_000);
  });
});

describe('oneMinimal against a flaky failure', () => {
  it('keeps a step whose removal passed once but failed on a later replay', async () => {
    // The failure needs 3; without 5 it still fails, but only every third replay (a race).
    let calls = 0;
    const fails = async (xs: readonly number[]) => {
      if (!xs.includes(3)) return false;
      if (xs.includes(5)) return true;
      calls++;
      return calls % 3 === 0;
    };
    const once = await oneMinimal([3, 5], fails, { maxAttempts: 50, timeBudgetMs: 10_000, replays: 1 });
    expect(once.commands).toEqual([3, 5]);
    calls = 0;
    const thrice = await oneMinimal([3, 5], fails, { maxAttempts: 50, timeBudgetMs: 10_000, replays: 3 });
    expect(thrice.commands).toEqual([3]);
  });

  it('spends `replays` replays on every removal it rejects', async () => {
    let calls = 0;
    const result = await oneMinimal(
      [1, 2, 3],
      async (xs) => {
        calls++;
        return xs.length === 3;
      },
      { maxAttempts: 100, timeBudgetMs: 10_000, replays: 3 },
    );
    expect(result.commands).toEqual([1, 2, 3]);
    expect(calls).toBe(9);
    expect(result.attempts).toBe(9);
  });
});

describe('describeMinimality', () => {
  it('claims 1-minimal with k/k only when every step was decided', async () => {
    const result = await oneMinimal([1, 2, 3], async (xs) => xs.includes(2), {
      maxAttempts: 100,
      timeBudgetMs: 10_000,
      replays: 3,
    });
    expect(result.undecided).toEqual([]);
    expect(describeMinimality(result, String)).toBe('1-minimal: removing any one step makes it pass 3/3');
  });

  it('names the steps it could not decide when the budget ran out', async () => {
    const result = await oneMinimal(['a', 'b', 'c'], async () => false, {
      maxAttempts: 4,
      timeBudgetMs: 10_000,
      replays: 3,
    });
    // 'c' (tried first) passed 3/3; 'b' got one replay before the budget ended.
    expect(result.undecided).toEqual([0, 1]);
    const text = describeMinimality(result, (c) => `cmd(${c})`);
    expect(text).toMatch(/^not shown 1-minimal/);
    expect(text).toContain('step 1 cmd(a), step 2 cmd(b)');
    expect(text).not.toContain('cmd(c)');
  });
});
