import { execFileSync } from 'node:child_process';
import { chmod, chown, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { stateDirForIndex } from '../../src/election/state-dir.js';
import { IpcClient } from '../../src/ipc/client.js';
import { EMBECODE_CLI, isRoleEvent, ServeChild } from '../../src/tester/serve/serve-child.js';
import { makeDemoProject, writeManyModules } from '../support/demo-project.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * Bad input while `embecode serve` runs (issue 12): a project tree that goes away, a file that cannot
 * be read, a FIFO where a file is read, a state directory someone else owns, a catch-up asked of an
 * owner that is stopping. Each is said in one line with
 * the right exit code, and the serve processes already running go on answering. Real serve
 * processes on a real project and index; every one is gone when a test ends.
 */
const started: ServeChild[] = [];
const restore: (() => Promise<void>)[] = [];

afterEach(async () => {
  for (const child of started) child.kill('SIGKILL');
  await Promise.all(started.map((child) => child.exited));
  started.length = 0;
  for (const undo of restore.splice(0)) await undo();
  await removeTempDirs();
});

async function setUp(): Promise<{ dir: string; db: string }> {
  const dir = await makeDemoProject('embecode-badinput-project-');
  const db = join(await makeTempDir('embecode-badinput-db-'), 'index.db');
  return { dir, db };
}

function serve(
  dir: string,
  db: string,
  extraArgs: readonly string[] = [],
  launcher?: readonly string[],
): ServeChild {
  const child = new ServeChild({ dir, db, extraArgs, ...(launcher === undefined ? {} : { launcher }) });
  started.push(child);
  return child;
}

async function cli(args: readonly string[]) {
  const r = await execa(process.execPath, [EMBECODE_CLI, ...args], { reject: false, timeout: 60_000 });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

async function searchVia(socket: string, query: string): Promise<string[]> {
  const client = new IpcClient(socket);
  try {
    return (await client.search(query, { mode: 'bm25' }, 30_000)).map((r) => r.path);
  } finally {
    await client.close();
  }
}

/**
 * How to start a serve that a mode-000 file really denies. Root reads any file (CAP_DAC_OVERRIDE,
 * CAP_DAC_READ_SEARCH), and CI runs tests as root; `setpriv` drops those two capabilities from the
 * bounding set and execs node, so the serve stays root (it owns the checkout, the temp dirs and
 * the state directory as before) but the kernel denies it the file as it would any user.
 */
function unprivilegedLauncher(): readonly string[] | undefined {
  if (process.getuid?.() !== 0) return undefined;
  return ['setpriv', '--bounding-set=-dac_override,-dac_read_search'];
}

const linesMatching = (text: string, pattern: RegExp) => text.split('\n').filter((l) => pattern.test(l));

describe('embecode serve on bad input', () => {
  it('a project tree that goes away: one line, the index kept and served, catch-ups again once it is back', async () => {
    const { dir, db } = await setUp();
    const owner = serve(dir, db, ['--reindex-every', '0.2']);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed' && e.reason === 'start', 0, 30_000);
    const reader = serve(dir, db);
    const readerRole = await reader.waitEvent('reader role', isRoleEvent('reader'), 0, 30_000);

    const away = `${dir}-away`;
    await rename(dir, away);
    restore.push(() => rename(away, dir).catch(() => undefined));
    const failedAt = owner.events.length;
    const failed = await owner.waitEvent(
      'a failed interval catch-up',
      (e) => e.event === 'index-failed' && e.reason === 'interval',
      0,
      30_000,
    );
    expect(failed.error).toBe(`directory ${dir} does not exist`);

    // A catch-up asked through the reader fails with one line naming the directory, not as "retry".
    const client = new IpcClient(readerRole.socket as string);
    try {
      await expect(client.catchUp(30_000)).rejects.toThrow(
        `serve ${owner.pid} could not catch up with ${dir}: directory ${dir} does not exist`,
      );
    } finally {
      await client.close();
    }
    const index = await cli(['index', dir, '--db', db]);
    expect(index.code).toBe(2);
    expect(index.stderr.trim()).toBe(`embecode: directory ${dir} does not exist`);

    // Nothing indexed is dropped, and both serves still answer.
    expect(await searchVia(readerRole.socket as string, 'handleRequest')).toContain('src/server/handler.ts');
    expect(await searchVia(owner.socket as string, 'handleRequest')).toContain('src/server/handler.ts');
    expect(owner.alive && reader.alive).toBe(true);

    await rename(away, dir);
    await writeFile(join(dir, 'src/back.ts'), 'export const glorpzonk = 1;\n');
    await owner.waitEvent(
      'an interval catch-up once the tree is back',
      (e) => e.event === 'indexed' && e.reason === 'interval' && (e.added ?? 0) > 0,
      failedAt,
      30_000,
    );
    expect((await searchVia(readerRole.socket as string, 'glorpzonk'))[0]).toBe('src/back.ts');
    // The same failure, every 0.2 s while the tree was away, was said once (and once for the request).
    expect(linesMatching(owner.stderr, /indexing \(interval\) failed/)).toHaveLength(1);
    expect(linesMatching(owner.stderr, /indexing \(request\) failed/)).toHaveLength(1);
    expect((await owner.stop()).code).toBe(0);
    expect((await reader.stop()).code).toBe(0);
  });

  it('a file that becomes unreadable: one line naming it, the rest indexed and served, indexed again once readable', async () => {
    const { dir, db } = await setUp();
    const secret = join(dir, 'src/secret.ts');
    await writeFile(secret, 'export const zorblatSecret = 1;\n');
    const owner = serve(dir, db, [], unprivilegedLauncher());
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed' && e.reason === 'start', 0, 30_000);
    const reader = serve(dir, db);
    const readerRole = await reader.waitEvent('reader role', isRoleEvent('reader'), 0, 30_000);
    const socket = readerRole.socket as string;
    expect(await searchVia(socket, 'zorblatSecret')).toEqual(['src/secret.ts']);

    await chmod(secret, 0o000);
    restore.push(() => chmod(secret, 0o644).catch(() => undefined));
    // `embecode index` asks the owner: the catch-up is done (exit 0) and counts the file as skipped.
    const index = await cli(['index', dir, '--db', db, '--json']);
    expect(index.code, index.stderr).toBe(0);
    expect(JSON.parse(index.stdout)).toMatchObject({ via: 'owner', ownerPid: owner.pid, skipped: 1 });
    expect(linesMatching(owner.stderr, /secret/)).toEqual([
      `embecode serve: pid ${owner.pid}: warning: skipped src/secret.ts: permission denied`,
    ]);
    // The index holds what can be read: the file's old text is not served as if it were current,
    // the other files are, through both serves.
    expect(await searchVia(socket, 'zorblatSecret')).toEqual([]);
    expect(await searchVia(socket, 'handleRequest')).toContain('src/server/handler.ts');
    expect(await searchVia(owner.socket as string, 'handleRequest')).toContain('src/server/handler.ts');

    await chmod(secret, 0o644);
    const client = new IpcClient(socket);
    try {
      expect(await client.catchUp(30_000)).toMatchObject({ pid: owner.pid, added: 1, skipped: 0 });
    } finally {
      await client.close();
    }
    expect(await searchVia(socket, 'zorblatSecret')).toEqual(['src/secret.ts']);
    expect(owner.alive && reader.alive).toBe(true);
    expect((await owner.stop()).code).toBe(0);
    expect((await reader.stop()).code).toBe(0);
  });

  // Before the walker opened files non-blocking, this owner never finished its first catch-up: the
  // open of the FIFO waited for a writer and froze the process, sockets and all.
  it('a FIFO where the walk reads ignore rules: one warning line, and the owner indexes and answers', async () => {
    const { dir, db } = await setUp();
    await mkdir(join(dir, '.git', 'info'), { recursive: true });
    execFileSync('mkfifo', [join(dir, '.git', 'info', 'exclude')]);
    const owner = serve(dir, db);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed' && e.reason === 'start', 0, 30_000);
    expect(linesMatching(owner.stderr, /ignore rules/)).toEqual([
      `embecode serve: pid ${owner.pid}: warning: cannot read ignore rules from .git/info/exclude: not a regular file (a FIFO); walking without them`,
    ]);
    expect(await searchVia(owner.socket as string, 'handleRequest')).toContain('src/server/handler.ts');
    expect((await owner.stop()).code).toBe(0);
  });

  // Tests run as root here; the ownership check compares the directory's uid with this process's,
  // so a directory chowned to `nobody` is someone else's even for root.
  it('a state directory owned by someone else: a new serve exits 2 with one line; the running owner goes on', async () => {
    const { dir, db } = await setUp();
    const owner = serve(dir, db);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed' && e.reason === 'start', 0, 30_000);
    const stateDir = stateDirForIndex(db);
    const uid = process.getuid?.() ?? 0;
    const other = uid === 65534 ? 65533 : 65534;
    await chown(stateDir, other, other);
    restore.push(() => chown(stateDir, uid, process.getgid?.() ?? 0).catch(() => undefined));

    const late = serve(dir, db);
    const exit = await late.exited;
    expect(exit.code).toBe(2);
    const lines = late.stderr.trim().split('\n');
    expect(lines).toEqual([
      `embecode: state directory ${stateDir} is owned by uid ${other}, not by this user (uid ${uid}); refusing to use it`,
    ]);

    expect(await searchVia(owner.socket as string, 'handleRequest')).toContain('src/server/handler.ts');
    expect(owner.alive).toBe(true);
    expect((await owner.stop()).code).toBe(0);
  });

  it('embecode index asking an owner that stops mid-catch-up: retried, then done by the successor or directly; the reader takes over', async () => {
    const { dir, db } = await setUp();
    const many = 300;
    const write = (round: string) => writeManyModules(dir, 'src', many, round);
    await write('first');
    const owner = serve(dir, db);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed' && e.reason === 'start', 0, 60_000);
    const reader = serve(dir, db);
    await reader.waitEvent('reader role', isRoleEvent('reader'), 0, 30_000);
    await write('second');

    const index = execa(process.execPath, [EMBECODE_CLI, 'index', dir, '--db', db, '--json'], {
      reject: false,
      timeout: 120_000,
    });
    // Stop the owner once it runs the requested catch-up (its status says so).
    const status = new IpcClient(owner.socket as string);
    try {
      const deadline = Date.now() + 30_000;
      for (;;) {
        const s = await status.status(5_000);
        if (s.indexing) break;
        if (Date.now() > deadline) throw new Error(`owner ${owner.pid} never started the requested catch-up`);
        await new Promise((r) => setTimeout(r, 5));
      }
    } finally {
      await status.close();
    }
    owner.kill('SIGTERM');
    const done = await index;
    expect(done.exitCode, done.stderr).toBe(0);
    const summary = JSON.parse(done.stdout) as { via: string; ownerPid: number | null };
    // Which one depends on who opens the index first once the owner let go: the reader promoting
    // itself, or the retrying `embecode index` (the reader then waits for the file, bounded).
    expect([
      { via: 'owner', ownerPid: reader.pid },
      { via: 'direct', ownerPid: null },
    ]).toContainEqual({ via: summary.via, ownerPid: summary.ownerPid });
    expect((await owner.exited).code).toBe(0);
    await reader.waitEvent('takeover', (e) => isRoleEvent('owner')(e) && e.takeover === true, 0, 60_000);
    expect(await searchVia(reader.socket as string, 'gen17second')).toContain('src/m17.ts');
    expect((await reader.stop()).code).toBe(0);
  });
});
