import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/election/election.js';
import { procLocksAvailable, procWriteLockHolders } from '../../src/election/proc-locks.js';
import type { ServeOutcome } from '../../src/serve/serve.js';
import { catchUps, startInProcessServe, stopInProcessServes } from '../support/serve-in-process.js';
import { removeTempDirs } from '../support/temp-dir.js';

/**
 * The owner checks with the kernel after each catch-up that it still holds its index's lock. The
 * loss is made the way the POSIX pitfall makes it: this process (the owner, running in the test
 * worker) reads the index file once, which closes a descriptor of it and drops its lock.
 */
afterEach(async () => {
  await stopInProcessServes();
  await removeTempDirs();
});

function within<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  return Promise.race([promise, late]).finally(() => clearTimeout(timer));
}

async function ownerWithCatchUps() {
  const { serve, dbPath, events, log } = await startInProcessServe('embecode-lockcheck', 50);
  expect(serve.role).toBe('owner');
  // Catch-ups that keep the locks leave serve serving.
  await catchUps(events, 3, 10_000);
  expect(serve.role).toBe('owner');
  const lockPath = join(`${dbPath}.state`, LOCK_FILE);
  expect(await procWriteLockHolders(dbPath)).toEqual([process.pid]);
  expect(await procWriteLockHolders(lockPath)).toEqual([process.pid]);
  return { serve, dbPath, lockPath, log };
}

describe.skipIf(!procLocksAvailable())('serve checks its locks after catch-ups', () => {
  it('stops with one line naming the index and the next step once its lock on the index is gone', async () => {
    const { serve, dbPath, log } = await ownerWithCatchUps();

    readFileSync(dbPath);
    expect(await procWriteLockHolders(dbPath)).toEqual([]);

    const outcome: ServeOutcome = await within(serve.finished, 10_000, 'serve to stop');
    expect(outcome.why).toBe('error');
    const message = (outcome.error as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toContain(`serve ${process.pid} lost its write lock on index ${dbPath}`);
    expect(message).toContain('nobody holds it now');
    expect(message).toContain('start embecode serve again');
    expect(serve.role).toBe('stopped');
    expect(log.filter((line) => line.includes('/proc/locks'))).toEqual([]);
  });

  it('stops once its election lock is gone, so that another serve process can take over', async () => {
    const { serve, lockPath } = await ownerWithCatchUps();

    readFileSync(lockPath);
    expect(await procWriteLockHolders(lockPath)).toEqual([]);

    const outcome: ServeOutcome = await within(serve.finished, 10_000, 'serve to stop');
    expect(outcome.why).toBe('error');
    expect((outcome.error as Error).message).toContain(`lost the election lock ${lockPath}`);
  });
});
