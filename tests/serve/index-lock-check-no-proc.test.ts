import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type ServeEvent, ServeProcess } from '../../src/serve/serve.js';
import { ipcTransport } from '../../src/serve/transport.js';
import { makeDemoProject } from '../support/demo-project.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

// Serve's own question to the kernel gets "no /proc/locks here", as on macOS; the election keeps
// the real module (its calls stay inside it), so the owner is elected as usual.
vi.mock('../../src/election/proc-locks.js', async (importOriginal) => ({
  ...(await importOriginal<typeof import('../../src/election/proc-locks.js')>()),
  procWriteLockHolders: async () => undefined,
}));

const running: ServeProcess[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((serve) => serve.stop('test over')));
  await removeTempDirs();
});

describe('serve without /proc/locks', () => {
  it('keeps serving and says once in its log that it cannot check its locks after catch-ups', async () => {
    const dir = await makeDemoProject('embecode-noproc-project-');
    const dbPath = join(await makeTempDir('embecode-noproc-db-'), 'index.db');
    const events: ServeEvent[] = [];
    const log: string[] = [];
    const serve = new ServeProcess({
      dir,
      dbPath,
      transport: ipcTransport,
      reindexEveryMs: 30,
      onEvent: (event) => events.push(event),
      log: (line) => log.push(line),
    });
    running.push(serve);
    await serve.start();
    const deadline = performance.now() + 10_000;
    while (events.filter((e) => e.event === 'indexed').length < 3 && performance.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    expect(events.filter((e) => e.event === 'indexed').length).toBeGreaterThanOrEqual(3);
    expect(serve.role).toBe('owner');
    const said = log.filter((line) => line.includes('/proc/locks is not available'));
    expect(said).toHaveLength(1);
    expect(said[0]).toContain(dbPath);
    expect(said[0]).toContain('owner.lock.db');
  });
});
