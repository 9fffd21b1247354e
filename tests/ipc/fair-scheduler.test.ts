import { describe, expect, it } from 'vitest';
import { FairScheduler } from '../../src/ipc/fair-scheduler.js';

/**
 * The scheduler on its own, with a clock the test moves: a job "runs" for as many clock units as
 * it says, and finishes when the test lets it.
 */
function harness(concurrency: number) {
  let time = 0;
  const scheduler = new FairScheduler(concurrency, () => time);
  const started: string[] = [];
  const finishers = new Map<string, () => void>();
  const add = (owner: object, name: string, units: number) =>
    scheduler.enqueue(owner, async () => {
      started.push(name);
      await new Promise<void>((resolve) => {
        finishers.set(name, () => {
          time += units;
          resolve();
        });
      });
    });
  /** Finishes the job `name` and lets the scheduler start the next ones. */
  const finish = async (name: string) => {
    const done = finishers.get(name);
    if (done === undefined) throw new Error(`${name} is not running (started: ${started.join(', ')})`);
    finishers.delete(name);
    done();
    for (let i = 0; i < 5; i++) await Promise.resolve();
  };
  return { scheduler, started, add, finish, running: () => [...finishers.keys()] };
}

describe('FairScheduler', () => {
  it('runs at most `concurrency` jobs, the others queued', () => {
    const h = harness(2);
    const owner = {};
    for (let i = 0; i < 5; i++) h.add(owner, `j${i}`, 1);
    expect(h.started).toEqual(['j0', 'j1']);
    expect({ queued: h.scheduler.queued, active: h.scheduler.active }).toEqual({ queued: 3, active: 2 });
  });

  it('a connection with small jobs goes before connections that have been served more', async () => {
    const h = harness(1);
    const heavy = [{}, {}, {}, {}];
    heavy.forEach((owner, c) => {
      for (let i = 0; i < 10; i++) h.add(owner, `h${c}.${i}`, 100);
    });
    // Every heavy connection gets a turn first (nobody has been served yet).
    for (const c of [0, 1, 2, 3]) await h.finish(`h${c}.0`);
    const light = {};
    for (let round = 0; round < 5; round++) {
      h.add(light, `light${round}`, 1);
      // Only the job running when it came is ahead of it.
      const running = h.running();
      expect(running).toHaveLength(1);
      await h.finish(running[0] as string);
      expect(h.running()).toEqual([`light${round}`]);
      await h.finish(`light${round}`);
    }
  });

  it('connections served alike take turns, one job each', async () => {
    const h = harness(1);
    const owners = [{}, {}, {}];
    owners.forEach((owner, c) => {
      for (let i = 0; i < 3; i++) h.add(owner, `c${c}.${i}`, 10);
    });
    while (h.running().length > 0) await h.finish(h.running()[0] as string);
    expect(h.started).toEqual(['c0.0', 'c1.0', 'c2.0', 'c0.1', 'c1.1', 'c2.1', 'c0.2', 'c1.2', 'c2.2']);
  });

  it('a cancelled job never starts; cancelling a started one does nothing', async () => {
    const h = harness(1);
    const owner = {};
    const first = h.add(owner, 'first', 1);
    const second = h.add(owner, 'second', 1);
    expect(second.cancel()).toBe(true);
    expect(second.cancel()).toBe(false);
    expect(first.cancel()).toBe(false);
    await h.finish('first');
    expect(h.started).toEqual(['first']);
    expect({ queued: h.scheduler.queued, active: h.scheduler.active }).toEqual({ queued: 0, active: 0 });
  });
});
