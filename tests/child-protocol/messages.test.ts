import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { answer } from '../../src/child-protocol/messages.js';
import { noteLockConflict, noteLockWait } from '../../src/strategies/lock-waits.js';

describe('answer', () => {
  it('sends back the lock conflicts the work retried and its longest wait', async () => {
    const reply = await answer({ id: 1, op: 'write' }, async () => {
      noteLockConflict();
      await sleep(1);
      noteLockConflict();
      noteLockWait(12);
      noteLockWait(5);
      return 'done';
    });
    expect(reply).toMatchObject({
      id: 1,
      ok: true,
      result: 'done',
      waits: { conflicts: 2, longestWaitMs: 12 },
    });
  });

  it('keeps the waits of a failed request too, and sends none when there were none', async () => {
    const failed = await answer({ id: 2, op: 'write' }, async () => {
      noteLockConflict();
      throw new Error('gave up');
    });
    expect(failed).toMatchObject({ ok: false, waits: { conflicts: 1, longestWaitMs: 0 } });
    const quiet = await answer({ id: 3, op: 'status' }, async () => null);
    expect(quiet).not.toHaveProperty('waits');
  });

  it('keeps the waits of requests answered at the same time apart', async () => {
    const work = (conflicts: number, ms: number) => async () => {
      for (let i = 0; i < conflicts; i++) {
        await sleep(ms);
        noteLockConflict();
      }
      return null;
    };
    const [a, b] = await Promise.all([
      answer({ id: 4, op: 'write' }, work(3, 2)),
      answer({ id: 5, op: 'write' }, work(1, 3)),
    ]);
    expect(a.waits?.conflicts).toBe(3);
    expect(b.waits?.conflicts).toBe(1);
  });

  it('notes outside a request go nowhere', () => {
    expect(() => noteLockConflict()).not.toThrow();
  });
});
