import { join } from 'node:path';
import { type ServeEvent, ServeProcess } from '../../src/serve/serve.js';
import { ipcTransport } from '../../src/serve/transport.js';
import { makeDemoProject } from './demo-project.js';
import { makeTempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/**
 * An `embecode serve` owner running in the test process itself (so the test can do to its locks
 * what only the lock holder can), catching up every `reindexEveryMs` over the demo project.
 * Stop every one started with `stopInProcessServes` in afterEach.
 */
const running: ServeProcess[] = [];

export interface InProcessServe {
  readonly serve: ServeProcess;
  readonly dbPath: string;
  readonly events: ServeEvent[];
  readonly log: string[];
}

export async function startInProcessServe(prefix: string, reindexEveryMs: number): Promise<InProcessServe> {
  const dir = await makeDemoProject(`${prefix}-project-`);
  const dbPath = join(await makeTempDir(`${prefix}-db-`), 'index.db');
  const events: ServeEvent[] = [];
  const log: string[] = [];
  const serve = new ServeProcess({
    dir,
    dbPath,
    transport: ipcTransport,
    reindexEveryMs,
    onEvent: (event) => events.push(event),
    log: (line) => log.push(line),
  });
  running.push(serve);
  await serve.start();
  return { serve, dbPath, events, log };
}

/** Waits until serve has caught up `count` times; fails saying how many it saw by `ms`. */
export async function catchUps(events: readonly ServeEvent[], count: number, ms: number): Promise<void> {
  const seen = () => events.filter((e) => e.event === 'indexed').length;
  await waitUntil(
    () => seen() >= count,
    ms,
    () => `serve caught up ${seen()} times, not ${count}`,
  );
}

export async function stopInProcessServes(): Promise<void> {
  await Promise.all(running.splice(0).map((serve) => serve.stop('test over')));
}
