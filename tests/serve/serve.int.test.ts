import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { procLocksAvailable, procWriteLockHolders } from '../../src/election/proc-locks.js';
import { IpcClient } from '../../src/ipc/client.js';
import { IpcUnavailableError } from '../../src/ipc/errors.js';
import { packageRoot } from '../../src/process/children.js';
import { pidAlive } from '../../src/process/pid-alive.js';
import { ServeProcess } from '../../src/serve/serve.js';
import { ipcTransport } from '../../src/serve/transport.js';
import { makeDemoProject } from '../support/demo-project.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * `embecode serve` as real processes (the built CLI, `npm test` builds first) on a real project
 * and index, its default index location in a temp XDG_CACHE_HOME. Every process started here is
 * SIGKILLed and reaped in afterEach, and afterAll fails the file if any PID is still alive.
 */
const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'embecode.js');
/** Generous bound on takeover through serve (measured: see specs/serve-and-election.md). */
const TAKEOVER_BOUND_MS = 5_000;

const nowMs = (): number => performance.timeOrigin + performance.now();

let cacheHome = '';
const started: ServeChild[] = [];
const startedPids: number[] = [];

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is not built; run \`npm run build\` first`);
});

afterEach(async () => {
  for (const child of started) if (child.exit === undefined) child.process.kill('SIGKILL');
  await Promise.all(started.map((child) => child.exited));
  started.length = 0;
  await removeTempDirs();
  expect(startedPids.filter(pidAlive)).toEqual([]);
});

afterAll(() => {
  expect(startedPids.filter(pidAlive)).toEqual([]);
});

interface ServeEvent {
  readonly event: string;
  readonly role?: 'owner' | 'reader';
  readonly pid: number;
  readonly ownerPid?: number | null;
  readonly takeover?: boolean;
  readonly previousOwnerPid?: number | null;
  readonly socket?: string;
  readonly ownerSocket?: string;
  readonly db?: string;
  readonly dir?: string;
  readonly reason?: string;
  readonly added?: number;
  readonly why?: string;
  readonly at: number;
}

interface ServeExit {
  readonly code: number | undefined;
  readonly signal: string | undefined;
  readonly at: number;
}

interface ServeChild {
  readonly pid: number;
  readonly process: ResultPromise;
  readonly events: ServeEvent[];
  stderr: string;
  exit: ServeExit | undefined;
  readonly exited: Promise<ServeExit>;
  /** The first event at index `from` or later that matches; rejects on timeout or exit. */
  waitEvent(match: (event: ServeEvent) => boolean, from?: number, timeoutMs?: number): Promise<ServeEvent>;
}

function startServe(dir: string, extra: readonly string[] = []): ServeChild {
  const child = execa(process.execPath, [CLI, 'serve', dir, '--json', ...extra], {
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
  startedPids.push(pid);
  let wake: (() => void)[] = [];
  const wakeAll = () => {
    const current = wake;
    wake = [];
    for (const w of current) w();
  };
  const self: ServeChild = {
    pid,
    process: child,
    events: [],
    stderr: '',
    exit: undefined,
    exited: child.then(
      (r) => ({ code: r.exitCode, signal: r.signal, at: nowMs() }),
      () => ({ code: child.exitCode ?? undefined, signal: child.signalCode ?? undefined, at: nowMs() }),
    ),
    waitEvent(match, from = 0, timeoutMs = 10_000) {
      return new Promise((resolve, reject) => {
        let index = from;
        const timer = setTimeout(() => {
          wake = wake.filter((w) => w !== look);
          reject(new Error(`serve ${pid}: no matching event in ${timeoutMs} ms; stderr: ${self.stderr}`));
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
          if (self.exit !== undefined) {
            clearTimeout(timer);
            reject(
              new Error(
                `serve ${pid} exited (${self.exit.code ?? self.exit.signal}); stderr: ${self.stderr}`,
              ),
            );
            return;
          }
          wake.push(look);
        };
        look();
      });
    },
  };
  void self.exited.then((exit) => {
    self.exit = exit;
    wakeAll();
  });
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    self.stderr += text;
  });
  createInterface({ input: child.stdout }).on('line', (line) => {
    self.events.push(JSON.parse(line) as ServeEvent);
    wakeAll();
  });
  started.push(self);
  return self;
}

const isRole = (role: 'owner' | 'reader') => (e: ServeEvent) => e.event === 'role' && e.role === role;

async function cli(args: readonly string[]) {
  const result = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: { XDG_CACHE_HOME: cacheHome },
    timeout: 30_000,
  });
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

interface SearchOutput {
  query: string;
  mode: string;
  results: { path: string; startLine: number; endLine: number; score: number; preview: string }[];
}

const QUERIES: readonly (readonly [string, string])[] = [
  ['registerQuuxblatRoutes', 'hybrid'],
  ['slugify text', 'bm25'],
  ['request body status', 'vector'],
];

async function searchAll(dir: string): Promise<SearchOutput[]> {
  return Promise.all(
    QUERIES.map(async ([query, mode]) => {
      const r = await cli(['search', query, '--dir', dir, '--mode', mode, '--json']);
      expect(r.code, r.stderr).toBe(0);
      return JSON.parse(r.stdout) as SearchOutput;
    }),
  );
}

/** The same searches sent to one serve process's own socket. */
async function searchThrough(socket: string): Promise<SearchOutput['results'][]> {
  const client = new IpcClient(socket);
  try {
    return await Promise.all(
      QUERIES.map(([query, mode]) => client.search(query, { mode: mode as 'hybrid' | 'bm25' | 'vector' })),
    );
  } finally {
    await client.close();
  }
}

interface StatusOutput {
  files: number;
  role: 'owner' | 'reader';
  owner: { pid: number; ready: boolean; record: string } | null;
  via: 'owner' | 'direct';
  serve: { pid: number; role: string; ownerPid: number | null }[];
}

async function status(dir: string): Promise<StatusOutput> {
  const r = await cli(['status', '--dir', dir, '--json']);
  expect(r.code, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as StatusOutput;
}

async function makeProject(): Promise<string> {
  cacheHome = await makeTempDir('embecode-serve-cache-');
  return makeDemoProject('embecode-serve-project-');
}

async function stateDirOf(): Promise<string> {
  const [entry] = await readdir(join(cacheHome, 'embecode'));
  return join(cacheHome, 'embecode', entry as string, 'index.db.state');
}

describe('embecode serve', () => {
  it('runs one owner and one reader, answers the same, survives SIGKILL of the owner, stops cleanly', async () => {
    const dir = await makeProject();
    const indexed = await cli(['index', dir]);
    expect(indexed.code, indexed.stderr).toBe(0);
    const before = await searchAll(dir); // the index opened read-only, no serve running
    expect(before[0]?.results[0]?.path).toBe('src/server/routes.ts');

    // Two serve processes: the first owns, the second reads.
    const a = startServe(dir);
    const aRole = await a.waitEvent(isRole('owner'));
    expect(aRole).toMatchObject({ pid: a.pid, ownerPid: a.pid, takeover: false });
    await a.waitEvent((e) => e.event === 'indexed');
    const b = startServe(dir, ['--reindex-every', '0.2']);
    const bRole = await b.waitEvent(isRole('reader'));
    expect(bRole).toMatchObject({ pid: b.pid, ownerPid: a.pid });
    const stateDir = await stateDirOf();
    expect(aRole.ownerSocket).toBe(join(stateDir, 'owner.sock'));

    // `embecode search` now goes through the owner, with the results the index gave before.
    expect(await searchAll(dir)).toEqual(before);
    // Both serve processes answer on their own sockets, the same (the reader forwards).
    const expected = before.map((b) => b.results);
    expect(await searchThrough(aRole.socket as string)).toEqual(expected);
    expect(await searchThrough(bRole.socket as string)).toEqual(expected);

    const s1 = await status(dir);
    expect(s1).toMatchObject({ role: 'reader', via: 'owner', files: 4 });
    expect(s1.owner).toMatchObject({ pid: a.pid, ready: true, record: 'current' });
    const roleOf = new Map([
      [a.pid, 'owner'],
      [b.pid, 'reader'],
    ]);
    expect(s1.serve.map((p) => [p.pid, p.role, p.ownerPid])).toEqual(
      [a.pid, b.pid].sort((x, y) => x - y).map((pid) => [pid, roleOf.get(pid), a.pid]),
    );

    // SIGKILL the owner: the reader takes over within the bound, and search keeps working.
    const from = b.events.length;
    const killedAt = nowMs();
    a.process.kill('SIGKILL');
    const took = await b.waitEvent(isRole('owner'), from, TAKEOVER_BOUND_MS);
    const takeoverMs = took.at - killedAt;
    expect(took).toMatchObject({ pid: b.pid, ownerPid: b.pid, takeover: true, previousOwnerPid: a.pid });
    expect(takeoverMs).toBeLessThan(TAKEOVER_BOUND_MS);
    expect(await searchAll(dir)).toEqual(before);
    const searchOkMs = nowMs() - killedAt;
    expect(await searchThrough(bRole.socket as string)).toEqual(expected);
    console.info(
      `serve takeover after SIGKILL: new owner serving after ${takeoverMs.toFixed(0)} ms; three CLI searches done ${searchOkMs.toFixed(0)} ms after the kill`,
    );
    expect((await a.exited).signal).toBe('SIGKILL');

    const s2 = await status(dir);
    expect(s2.owner).toMatchObject({ pid: b.pid, ready: true });
    expect(s2.serve).toEqual([expect.objectContaining({ pid: b.pid, role: 'owner' })]);

    // The new owner catches up with the project (here: every 0.2 s).
    const fromIndex = b.events.length;
    await writeFile(join(dir, 'src', 'late.py'), 'def zorblaxian_handler():\n    return 42\n');
    await b.waitEvent((e) => e.event === 'indexed' && e.added === 1, fromIndex);
    const late = await cli(['search', 'zorblaxian_handler', '--dir', dir, '--mode', 'bm25', '--json']);
    expect((JSON.parse(late.stdout) as SearchOutput).results[0]?.path).toBe('src/late.py');

    // A third process reads from the new owner; SIGTERM hands over cleanly.
    const c = startServe(dir);
    await c.waitEvent((e) => e.event === 'role' && e.role === 'reader' && e.ownerPid === b.pid);
    const fromC = c.events.length;
    b.process.kill('SIGTERM');
    const bExit = await b.exited;
    expect(bExit).toMatchObject({ code: 0, signal: undefined });
    expect(b.events.at(-1)).toMatchObject({ event: 'stopped', why: 'SIGTERM' });
    await c.waitEvent(
      (e) => isRole('owner')(e) && e.takeover === true && e.previousOwnerPid === b.pid,
      fromC,
    );
    expect((await status(dir)).owner?.pid).toBe(c.pid);

    // SIGINT: clean exit 0; socket files and owner record gone; nobody owns the index.
    c.process.kill('SIGINT');
    expect(await c.exited).toMatchObject({ code: 0, signal: undefined });
    expect(c.stderr).toContain(`pid ${c.pid}: stopped (SIGINT)`);
    expect(existsSync(join(stateDir, 'owner.sock'))).toBe(false);
    expect(existsSync(join(stateDir, 'owner.json'))).toBe(false);
    expect(await readdir(join(stateDir, 'serve'))).toEqual([]);
    const s3 = await status(dir);
    expect(s3).toMatchObject({ role: 'owner', owner: null, via: 'direct', serve: [], files: 5 });
  });

  it('elects exactly one owner among three serve processes started at once, and one successor', async () => {
    const dir = await makeProject();
    const all = [startServe(dir), startServe(dir), startServe(dir)];
    const roles = await Promise.all(all.map((p) => p.waitEvent((e) => e.event === 'role')));
    const owners = all.filter((_, i) => roles[i]?.role === 'owner');
    expect(owners).toHaveLength(1);
    const owner = owners[0] as ServeChild;
    await owner.waitEvent((e) => e.event === 'indexed'); // a fresh index: the owner created it
    const readers = all.filter((p) => p !== owner);

    const marks = readers.map((r) => r.events.length);
    owner.process.kill('SIGKILL');
    const next = await Promise.race(
      readers.map((r, i) => r.waitEvent(isRole('owner'), marks[i], TAKEOVER_BOUND_MS)),
    );
    const successor = readers.find((r) => r.pid === next.pid) as ServeChild;
    const other = readers.find((r) => r !== successor) as ServeChild;
    await successor.waitEvent((e) => e.event === 'indexed' && e.reason === 'takeover');
    const s = await status(dir);
    expect(s.owner?.pid).toBe(successor.pid);
    expect(s.serve).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ pid: successor.pid, role: 'owner' }),
        expect.objectContaining({ pid: other.pid, role: 'reader' }),
      ]),
    );
    expect(s.serve).toHaveLength(2);
    // The other reader never became owner.
    expect(other.events.filter(isRole('owner'))).toEqual([]);
    const found = await cli(['search', 'slugify', '--dir', dir, '--mode', 'bm25', '--json']);
    expect((JSON.parse(found.stdout) as SearchOutput).results[0]?.path).toBe('src/util/strings.py');
  });

  it('keeps the election lock with the index inside the project, also once its state directory is no longer ignored', async () => {
    // Regression: the owner's catch-up walked into `<index>.state/` and read owner.lock.db; closing
    // that descriptor dropped the process's election lock while it went on serving.
    const dir = await makeProject();
    const db = join(dir, '.idx', 'index.db');
    const owner = startServe(dir, ['--db', db, '--reindex-every', '0.1']);
    await owner.waitEvent((e) => e.event === 'indexed');
    await owner.waitEvent((e) => e.event === 'indexed' && e.reason === 'interval');
    const r = await cli(['status', '--dir', dir, '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const s = JSON.parse(r.stdout) as StatusOutput;
    expect(s).toMatchObject({ files: 4, via: 'owner' }); // the state directory is not indexed
    expect(s.owner?.pid).toBe(owner.pid);

    // Without the state directory's .gitignore the walk reaches the lock file, and skips it by
    // identity instead of opening it: the owner keeps its lock and goes on serving. (That a lost
    // lock stops the owner is in index-lock-check.test.ts, which can lose it on purpose.)
    await rm(join(`${db}.state`, '.gitignore'));
    let from = owner.events.length;
    for (let i = 0; i < 3; i++) {
      await owner.waitEvent((e) => e.event === 'indexed' && e.reason === 'interval', from);
      from = owner.events.length;
    }
    expect(owner.exit, owner.stderr).toBeUndefined();
    expect(owner.stderr).toContain('skipped .idx/index.db.state/owner.lock.db: the election lock');
    expect(owner.stderr).not.toContain('lost the election lock');
    if (procLocksAvailable()) {
      expect(await procWriteLockHolders(join(`${db}.state`, 'owner.lock.db'))).toEqual([owner.pid]);
    }
  });

  it('a frozen owner: status lists every process and names it, a reader says it is alive but not answering', async () => {
    const dir = await makeProject();
    const a = startServe(dir);
    const aRole = await a.waitEvent(isRole('owner'));
    await a.waitEvent((e) => e.event === 'indexed');
    const b = startServe(dir);
    await b.waitEvent(isRole('reader'));
    // A reader in this process too, with a short forwarding wait, to see what a reader answers.
    const reader = new ServeProcess({
      dir: aRole.dir as string,
      dbPath: aRole.db as string,
      transport: ipcTransport,
      forwardWaitMs: 1_500,
    });
    let client: IpcClient | undefined;
    try {
      await reader.start();
      expect(reader.role).toBe('reader');
      a.process.kill('SIGSTOP');
      const [json, text] = await Promise.all([
        cli(['status', '--dir', dir, '--json']),
        cli(['status', '--dir', dir]),
      ]);
      for (const r of [json, text]) {
        expect(r.code, r.stderr).toBe(2);
        expect(r.stderr.trim().split('\n'), r.stderr).toHaveLength(1);
        expect(r.stderr).toContain(`(process ${a.pid}) is alive but not answering: no answer within 4 s`);
        expect(r.stderr).not.toMatch(/retry\).*retry|shutting down|found no owner|\d\.\d{3,} ms/);
      }
      const out = JSON.parse(json.stdout) as Omit<StatusOutput, 'files'> & {
        ownerAnswering: boolean;
        files: null;
      };
      expect(out).toMatchObject({ ownerAnswering: false, files: null, owner: { pid: a.pid } });
      const listed = new Map(out.serve.map((p) => [p.pid, p.role]));
      expect(listed).toEqual(
        new Map([
          [a.pid, 'unreachable'],
          [b.pid, 'reader'],
          [process.pid, 'reader'],
        ]),
      );
      expect(text.stdout).toContain(`pid ${a.pid} unreachable`);
      expect(text.stdout).toContain(`pid ${b.pid} reader`);

      client = new IpcClient(reader.socketPath);
      const forwarded = await client.search('slugify text', { mode: 'bm25' }, 10_000).then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(forwarded).toBeInstanceOf(IpcUnavailableError);
      expect(forwarded).toMatchObject({ reason: 'timeout' });
      const message = (forwarded as Error).message;
      expect(message).toContain(`(process ${a.pid}) is alive but not answering within 1.5 s`);
      expect(message).not.toMatch(/retry\).*retry|found no owner|\d\.\d{3,} ms/);
    } finally {
      a.process.kill('SIGCONT');
      await client?.close();
      await reader.stop('test over');
    }
  });

  it('refuses a strategy serve does not support, in one line, exit 2', async () => {
    const dir = await makeProject();
    for (const [strategy, text] of [
      ['snapshot', "does not support strategy 'snapshot': "],
      ['carrier-pigeon', "unknown strategy 'carrier-pigeon'"],
    ] as const) {
      const r = await cli(['serve', dir, '--strategy', strategy]);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim().split('\n')).toEqual([expect.stringContaining(text)]);
      expect(r.stderr.startsWith('embecode: ')).toBe(true);
    }
    expect(existsSync(join(cacheHome, 'embecode'))).toBe(false);
  });
});
