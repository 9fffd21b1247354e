import { existsSync } from 'node:fs';
import { link, mkdir, rm, symlink } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/election/election.js';
import { procLocksAvailable, procWriteLockHolders } from '../../src/election/proc-locks.js';
import { packageRoot } from '../../src/process/children.js';
import { pidAlive } from '../../src/process/pid-alive.js';
import { IntruderClient } from '../../src/tester/intruder/intruder-client.js';
import { makeDemoProject } from '../support/demo-project.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';
import { waitUntil } from '../support/wait-until.js';

/**
 * The owner's catch-up walks the project in the process that holds the index and the election lock.
 * fcntl locks belong to the process: if the walk opens and closes either file by any path (a
 * symlinked directory, a hard link, a state directory whose .gitignore went away), the owner's lock
 * is gone and a stranger may open the index read-write beside it. These tests put such paths into
 * the project of a real `embecode serve` child and then ask a real second process (the intruder)
 * whether it can get in. Every child is SIGKILLed and reaped in afterEach, temp dirs removed.
 */
const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'embecode.js');

interface ServeEvent {
  readonly event: string;
  readonly role?: string;
  readonly pid: number;
  readonly reason?: string;
  readonly skipped?: number;
  readonly why?: string;
}

interface ServeChild {
  readonly pid: number;
  readonly events: ServeEvent[];
  stderr: string;
  exitCode: number | null | undefined;
  readonly exited: Promise<void>;
  readonly process: ResultPromise;
  waitEvent(match: (event: ServeEvent) => boolean, from?: number, timeoutMs?: number): Promise<ServeEvent>;
}

let cacheHome = '';
const serveChildren: ServeChild[] = [];
const intruders: IntruderClient[] = [];
const pids: number[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is not built; run \`npm run build\` first`);
});

afterEach(async () => {
  for (const child of serveChildren) if (child.exitCode === undefined) child.process.kill('SIGKILL');
  await Promise.all(serveChildren.map((child) => child.exited));
  serveChildren.length = 0;
  await Promise.all(intruders.map((intruder) => intruder.kill('SIGKILL').catch(() => undefined)));
  intruders.length = 0;
  await removeTempDirs();
  expect(pids.filter(pidAlive)).toEqual([]);
});

afterAll(() => {
  expect(pids.filter(pidAlive)).toEqual([]);
});

function startServe(dir: string, args: readonly string[]): ServeChild {
  const child = execa(process.execPath, [CLI, 'serve', dir, '--json', ...args], {
    env: { XDG_CACHE_HOME: cacheHome },
    reject: false,
    buffer: false,
    stdin: 'ignore',
    stdout: 'pipe',
    stderr: 'pipe',
  });
  const pid = child.pid;
  if (pid === undefined || child.stdout === null || child.stderr === null) {
    child.kill('SIGKILL');
    throw new Error('serve did not start');
  }
  pids.push(pid);
  let wake: (() => void)[] = [];
  const wakeAll = () => {
    const waiting = wake;
    wake = [];
    for (const w of waiting) w();
  };
  const self: ServeChild = {
    pid,
    events: [],
    stderr: '',
    exitCode: undefined,
    process: child,
    exited: child.then(
      (result) => {
        self.exitCode = result.exitCode ?? null;
      },
      () => {
        self.exitCode = child.exitCode;
      },
    ),
    waitEvent(match, from = 0, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        let index = from;
        const timer = setTimeout(() => {
          wake = wake.filter((w) => w !== look);
          reject(new Error(`serve ${pid}: no matching event within ${timeoutMs} ms; stderr: ${self.stderr}`));
        }, timeoutMs);
        const look = () => {
          for (; index < self.events.length; index++) {
            const event = self.events[index] as ServeEvent;
            if (match(event)) {
              clearTimeout(timer);
              resolve(event);
              return;
            }
          }
          if (self.exitCode !== undefined) {
            clearTimeout(timer);
            reject(new Error(`serve ${pid} exited (${self.exitCode}); stderr: ${self.stderr}`));
            return;
          }
          wake.push(look);
        };
        look();
      });
    },
  };
  void self.exited.then(wakeAll);
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    self.stderr += text;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    self.events.push(JSON.parse(line) as ServeEvent);
    wakeAll();
  });
  serveChildren.push(self);
  return self;
}

async function intruder(): Promise<IntruderClient> {
  const client = await IntruderClient.start('protected-files');
  intruders.push(client);
  pids.push(client.pid);
  return client;
}

/** Waits until `count` catch-ups have both started and ended after this call. */
async function fullCatchUps(serve: ServeChild, count: number): Promise<void> {
  let from = serve.events.length;
  // The first one to end may have started before the call: wait for one more than asked.
  for (let i = 0; i <= count; i++) {
    await serve.waitEvent((e) => e.event === 'indexed' || e.event === 'index-failed', from);
    from = serve.events.length;
  }
}

/** Waits until serve's stderr holds `text`: its log lines and its JSON events travel on two pipes. */
async function waitStderr(serve: ServeChild, text: string, timeoutMs = 5_000): Promise<void> {
  await waitUntil(
    () => serve.stderr.includes(text),
    timeoutMs,
    () => `serve ${serve.pid}: no '${text}' on stderr: ${serve.stderr}`,
    20,
  );
}

/**
 * A demo project holding its own index in `real/`, with `link -> real` inside the project, and the
 * index named through the link: the path-based exclusion then names `link/index.db` while the walk
 * finds the same file as `real/index.db`.
 */
async function projectWithIndexBehindSymlink() {
  cacheHome = await makeTempDir('embecode-protect-cache-');
  const dir = await makeDemoProject('embecode-protect-project-');
  await mkdir(join(dir, 'real'));
  await symlink('real', join(dir, 'link'), 'dir');
  const db = join(dir, 'link', 'index.db');
  const realDb = join(dir, 'real', 'index.db');
  const lockFile = join(dir, 'real', 'index.db.state', LOCK_FILE);
  return { dir, db, realDb, lockFile };
}

describe.skipIf(!procLocksAvailable())('serve never opens the files it holds locked', () => {
  it('keeps the index locked against another process when the project reaches it through a symlinked directory and a hard link', async () => {
    const { dir, db, realDb } = await projectWithIndexBehindSymlink();
    // The index exists before serve starts, so the hard link can be made before the first walk.
    const indexed = await execa(process.execPath, [CLI, 'index', dir, '--db', db], {
      env: { XDG_CACHE_HOME: cacheHome },
      reject: false,
      timeout: 30_000,
    });
    expect(indexed.exitCode, indexed.stderr).toBe(0);
    const hardLink = join(dir, 'copy-of-index.db');
    await link(realDb, hardLink);

    const serve = startServe(dir, ['--db', db]);
    await serve.waitEvent((e) => e.event === 'role' && e.role === 'owner');
    const catchUp = await serve.waitEvent((e) => e.event === 'indexed' && e.reason === 'start');
    expect(catchUp.skipped).toBeGreaterThanOrEqual(2); // real/index.db and its hard link

    // DuckDB's word, from another process, by every name the file has; then the kernel's.
    const stranger = await intruder();
    for (const path of [realDb, hardLink, db]) {
      const probe = await stranger.probe({ path, access: 'READ_WRITE', prove: true });
      expect(probe, `intruder on ${path}`).toMatchObject({ gotIn: false });
      expect((probe as { error: string }).error).toContain(`(PID ${serve.pid})`);
    }
    expect(await procWriteLockHolders(realDb)).toEqual([serve.pid]);
    await waitStderr(serve, `skipped real/index.db: the index ${db}`);
    await waitStderr(serve, `skipped copy-of-index.db: the index ${db}`);
    expect(serve.exitCode).toBeUndefined();
  });

  it('keeps the election lock when the state directory loses its .gitignore and the lock file gets a hard link in the project', async () => {
    const { dir, db, lockFile } = await projectWithIndexBehindSymlink();
    const serve = startServe(dir, ['--db', db, '--reindex-every', '0.2']);
    await serve.waitEvent((e) => e.event === 'role' && e.role === 'owner');
    await serve.waitEvent((e) => e.event === 'indexed' && e.reason === 'start');
    expect(await procWriteLockHolders(lockFile)).toEqual([serve.pid]);

    await rm(join(dir, 'real', 'index.db.state', '.gitignore'));
    await link(lockFile, join(dir, 'copy-of-lock.db'));
    await fullCatchUps(serve, 2);

    expect(await procWriteLockHolders(lockFile)).toEqual([serve.pid]);
    const stranger = await intruder();
    const probe = await stranger.probe({ path: lockFile, access: 'READ_WRITE' });
    expect(probe).toMatchObject({ gotIn: false });
    await waitStderr(serve, 'skipped copy-of-lock.db: the election lock');
    await waitStderr(serve, 'skipped real/index.db.state/owner.lock.db: the election lock');
    expect(serve.exitCode, serve.stderr).toBeUndefined();
  });
});
