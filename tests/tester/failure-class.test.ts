import { describe, expect, it } from 'vitest';
import { classifyBudgetMs, classifyFailure, failureClassOf } from '../../src/tester/failure-class.js';

describe('classifyFailure', () => {
  it('calls a trace that fails on every replay a logic bug', async () => {
    const cls = await classifyFailure(async () => true, { replays: 5, timeBudgetMs: 10_000 });
    expect(cls).toMatchObject({ class: 'logic', failed: 5, of: 5, text: 'fails every time (5/5)' });
  });

  it('calls a trace that fails only sometimes a race, with the count', async () => {
    let n = 0;
    const cls = await classifyFailure(async () => n++ % 2 === 0, { replays: 5, timeBudgetMs: 10_000 });
    expect(cls).toMatchObject({ class: 'race', failed: 3, of: 5, text: 'fails 3/5: a race' });
  });

  it('stops starting replays at its time bound, after at least two', async () => {
    let n = 0;
    const cls = await classifyFailure(
      async () => {
        n++;
        await new Promise((done) => setTimeout(done, 20));
        return true;
      },
      { replays: 5, timeBudgetMs: 1 },
    );
    expect(n).toBe(2);
    expect(cls.of).toBe(2);
  });

  it('bounds its time to a twentieth of the search, between 2 and 30 s', () => {
    expect(classifyBudgetMs(1_000)).toBe(2_000);
    expect(classifyBudgetMs(100_000)).toBe(5_000);
    expect(classifyBudgetMs(1_000_000)).toBe(30_000);
    expect(failureClassOf(0, 5).text).toBe('fails 0/5: a race');
  });
});
