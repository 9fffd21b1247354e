import { afterEach, describe, expect, it, vi } from 'vitest';
import { catchUps, startInProcessServe, stopInProcessServes } from '../support/serve-in-process.js';
import { removeTempDirs } from '../support/temp-dir.js';

// Serve's own question to the kernel gets "no /proc/locks here", as on macOS; the election keeps
// the real module (its calls stay inside it), so the owner is elected as usual.
vi.mock('../../src/election/proc-locks.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/election/proc-locks.js')>()),
  procWriteLockHolders: async () => undefined,
}));

afterEach(async () => {
  await stopInProcessServes();
  await removeTempDirs();
});

describe('serve without /proc/locks', () => {
  it('keeps serving and says once in its log that it cannot check its locks after catch-ups', async () => {
    const { serve, dbPath, events, log } = await startInProcessServe('embecode-noproc', 30);
    await catchUps(events, 3, 10_000);
    expect(serve.role).toBe('owner');
    const said = log.filter((line) => line.includes('/proc/locks is not available'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(dbPath);
    expect(said[0]).toContain('owner.lock.db');
  });
});
