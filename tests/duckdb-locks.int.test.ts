import { existsSync, statSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { Database } from '../src/index/database.js';
import { buildIndex, PROFILE_QUERIES, searchReadOnly } from './support/index-fixture.js';
import { expectDuckDBLockConflict, expectEmbecodeLocked, rejectionOf } from './support/lock-assertions.js';
import { assertNoSurvivors, probeOpen, startOwner, stopAllOwners } from './support/owner.js';
import { makeTempDir, removeTempDirs } from './support/temp-dir.js';

/**
 * Why a reader cannot open the index while the owner holds it: hypotheses A (the call form),
 * B (checkpoint state) and C (DuckDB's cross-process lock), each across two real processes.
 * Raw @duckdb/node-api where the point is DuckDB itself; embecode's Database where it is embecode.
 */

/** Everything this file opens in its own process, closed in afterEach even when a test fails. */
const opened: { closeSync(): void | Promise<void> }[] = [];
function track<T extends { closeSync(): void | Promise<void> }>(thing: T): T {
  opened.push(thing);
  return thing;
}
function trackDb(db: Database): Database {
  track({ closeSync: () => db.close() });
  return db;
}

afterEach(async () => {
  // Connections before instances: closing an instance first would keep its lock (see below).
  for (const thing of opened.splice(0).reverse()) await thing.closeSync();
  await stopAllOwners();
  await removeTempDirs();
});

afterAll(() => {
  assertNoSurvivors();
});

type Access = 'READ_WRITE' | 'READ_ONLY';

/** A plain DuckDB file with one committed, checkpointed row. */
async function plainDb(): Promise<string> {
  const path = join(await makeTempDir(), 'plain.db');
  const instance = await DuckDBInstance.create(path);
  const conn = await DuckDBConnection.create(instance);
  await conn.run('CREATE TABLE t (x INTEGER); INSERT INTO t VALUES (42)');
  conn.closeSync();
  instance.closeSync();
  return path;
}

async function openRaw(path: string, access: Access): Promise<DuckDBInstance> {
  return track(await DuckDBInstance.create(path, { access_mode: access }));
}

const holderFlags = (access: Access) => ['--raw', '--mode', access === 'READ_ONLY' ? 'reader' : 'owner'];

describe('hypothesis C: the lock matrix across two processes', () => {
  test.each([
    { holder: 'READ_WRITE', opener: 'READ_WRITE', conflict: true, hint: false },
    { holder: 'READ_WRITE', opener: 'READ_ONLY', conflict: true, hint: false },
    { holder: 'READ_ONLY', opener: 'READ_WRITE', conflict: true, hint: true },
    { holder: 'READ_ONLY', opener: 'READ_ONLY', conflict: false, hint: false },
  ] as const)(
    'holder $holder, opener $opener: conflict $conflict',
    async ({ holder, opener, conflict, hint }) => {
      const path = await plainDb();
      const owner = await startOwner(path, holderFlags(holder));
      if (conflict) {
        expectDuckDBLockConflict(await rejectionOf(openRaw(path, opener)), path, owner.pid, hint);
      } else {
        const conn = track(await DuckDBConnection.create(await openRaw(path, opener)));
        expect((await conn.runAndReadAll('SELECT x FROM t')).getRows()).toEqual([[42]]);
      }
      expect(await owner.stop()).toMatchObject({ exitCode: 0 });
    },
  );

  test('any number of READ_ONLY opens from different processes coexist', async () => {
    const path = await plainDb();
    await startOwner(path, holderFlags('READ_ONLY'));
    await startOwner(path, holderFlags('READ_ONLY'));
    const conn = track(await DuckDBConnection.create(await openRaw(path, 'READ_ONLY')));
    expect((await conn.runAndReadAll('SELECT x FROM t')).getRows()).toEqual([[42]]);
  });

  test.skipIf(!existsSync('/proc/locks'))(
    'the lock is a POSIX fcntl lock on the whole file: WRITE for read-write, READ for READ_ONLY',
    async () => {
      const path = await plainDb();
      const inode = statSync(path).ino;
      for (const [access, type] of [
        ['READ_WRITE', 'WRITE'],
        ['READ_ONLY', 'READ'],
      ] as const) {
        const owner = await startOwner(path, holderFlags(access));
        // `1: POSIX  ADVISORY  WRITE 4723 fe:00:2146307 0 EOF`: from byte 0 to the end of the file.
        const locks = (await readFile('/proc/locks', 'utf8'))
          .split('\n')
          .map((line) => line.trim().split(/\s+/))
          .filter((f) => f[4] === String(owner.pid) && f[5]?.endsWith(`:${inode}`));
        expect(locks.map((f) => f.slice(1, 4).concat(f.slice(6)))).toEqual([
          ['POSIX', 'ADVISORY', type, '0', 'EOF'],
        ]);
        expect(await owner.stop()).toMatchObject({ exitCode: 0 });
      }
    },
  );
});

describe('hypothesis C: when the lock goes', () => {
  test('closing the instance while a connection is open keeps the lock; closing the connection releases it', async () => {
    const path = await plainDb();
    const instance = track(await DuckDBInstance.create(path));
    const conn = track(await DuckDBConnection.create(instance));
    instance.closeSync();
    // The connection keeps the database alive: it still answers.
    expect((await conn.runAndReadAll('SELECT count(*)::INTEGER FROM t')).getRows()).toEqual([[1]]);
    const blocked = await probeOpen(path, ['--raw']);
    expect(blocked.opened).toBe(false);
    if (!blocked.opened) expect(blocked.exit.stderr).toContain(`(PID ${process.pid})`);
    conn.closeSync();
    expect(await probeOpen(path, ['--raw'])).toMatchObject({ opened: true });
  });

  test('closing every connection but not the instance keeps the lock; closing the instance releases it', async () => {
    const path = await plainDb();
    const instance = track(await DuckDBInstance.create(path));
    const conn = track(await DuckDBConnection.create(instance));
    await conn.run('INSERT INTO t VALUES (43)');
    conn.closeSync();
    expect(await probeOpen(path, ['--raw'])).toMatchObject({ opened: false });
    instance.closeSync();
    expect(await probeOpen(path, ['--raw'])).toMatchObject({ opened: true });
  });

  test('Database.close() releases the lock at once: another process opens the index right after', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const db = trackDb(await Database.open(dbPath, { mode: 'owner' }));
    expect(await probeOpen(dbPath)).toMatchObject({ opened: false });
    await db.close();
    expect(await probeOpen(dbPath)).toMatchObject({ opened: true });
  });

  test('the kernel releases the lock when the owner is SIGKILLed', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const owner = await startOwner(dbPath);
    expectEmbecodeLocked(
      await rejectionOf(Database.open(dbPath, { mode: 'owner' }), (d) => d.close()),
      owner.pid,
    );
    expect(await owner.kill('SIGKILL')).toMatchObject({ signal: 'SIGKILL' });
    const db = trackDb(await Database.open(dbPath, { mode: 'owner' }));
    expect((await db.stats()).files).toBe(3);
  });

  test("a reader's READ_ONLY open blocks the owner's read-write re-open", async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const reader = await startOwner(dbPath, ['--mode', 'reader']);
    const error = await rejectionOf(Database.open(dbPath, { mode: 'owner' }), (d) => d.close());
    expectEmbecodeLocked(error, reader.pid);
    expect((error as Error).message).toContain('you would be able to open this database in read-only mode');
    expect(await reader.stop()).toMatchObject({ exitCode: 0 });
    await trackDb(await Database.open(dbPath, { mode: 'owner' })).close();
  });

  test('after an owner crash, a READ_ONLY open sees the rows it committed to the WAL', async () => {
    const dir = await makeTempDir();
    const { dbPath } = await buildIndex(dir);
    const walPath = `${dbPath}.wal`;
    expect(existsSync(walPath)).toBe(false);
    const contentFile = join(dir, 'crash.ts');
    await writeFile(contentFile, 'export const survivesTheCrashMarker = "committed before SIGKILL";\n');
    const owner = await startOwner(dbPath, ['--index-file', 'src/crash.ts', contentFile]);
    expect(statSync(walPath).size).toBeGreaterThan(0);
    await owner.kill('SIGKILL');
    expect(existsSync(walPath)).toBe(true);

    const found = await searchReadOnly(dbPath, {
      bm25: 'survivesTheCrashMarker',
      vector: 'survives the crash marker',
    });
    expect(found.bm25.map((r) => r.path)).toEqual(['src/crash.ts']);
    expect(found.vector[0]?.path).toBe('src/crash.ts');
    // The READ_ONLY open replayed the WAL in memory and left it in place...
    expect(existsSync(walPath)).toBe(true);
    // ...and the next read-write open replays it into the main file.
    const db = trackDb(await Database.open(dbPath, { mode: 'owner' }));
    expect((await db.stats()).files).toBe(4);
    await db.close();
    expect(existsSync(walPath)).toBe(false);
    expect((await searchReadOnly(dbPath, PROFILE_QUERIES)).bm25[0]?.path).toBe('src/user-profile.ts');
  });
});

describe('hypothesis A: the call form changes nothing', () => {
  const rawForms: { name: string; open: (path: string) => Promise<unknown> }[] = [
    {
      name: "DuckDBInstance.create(path, { access_mode: 'READ_ONLY' })",
      open: (path) => openRaw(path, 'READ_ONLY'),
    },
    {
      name: "ATTACH 'path' (READ_ONLY) from an in-memory instance",
      open: async (path) => {
        const conn = track(await DuckDBConnection.create(await openRaw(':memory:', 'READ_WRITE')));
        await conn.run(`ATTACH '${path}' AS idx (READ_ONLY)`);
      },
    },
    {
      name: "DuckDBInstance.fromCache(path, { access_mode: 'READ_ONLY' })",
      open: async (path) => track(await DuckDBInstance.fromCache(path, { access_mode: 'READ_ONLY' })),
    },
  ];

  test.each(rawForms)('raw $name fails with the same lock conflict', async ({ open }) => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const owner = await startOwner(dbPath);
    expectDuckDBLockConflict(await rejectionOf(open(dbPath)), dbPath, owner.pid);
    expect(await owner.stop()).toMatchObject({ exitCode: 0 });
  });

  test.each([
    { ownerVia: 'options', readerVia: 'options' },
    { ownerVia: 'options', readerVia: 'attach' },
    { ownerVia: 'attach', readerVia: 'options' },
    { ownerVia: 'attach', readerVia: 'attach' },
  ] as const)(
    'Database owner via $ownerVia, reader via $readerVia: locked',
    async ({ ownerVia, readerVia }) => {
      const { dbPath } = await buildIndex(await makeTempDir());
      const owner = await startOwner(dbPath, ['--open-via', ownerVia]);
      const error = await rejectionOf(Database.open(dbPath, { mode: 'reader', openVia: readerVia }), (d) =>
        d.close(),
      );
      expectEmbecodeLocked(error, owner.pid);
      expect(await owner.stop()).toMatchObject({ exitCode: 0 });
    },
  );
});

describe('hypothesis B: checkpoint state changes nothing', () => {
  test('after the owner writes and CHECKPOINTs (no WAL left), a READ_ONLY open still conflicts', async () => {
    const dir = await makeTempDir();
    const { dbPath } = await buildIndex(dir);
    const contentFile = join(dir, 'late.ts');
    await writeFile(contentFile, 'export const writtenThenCheckpointed = true;\n');
    const owner = await startOwner(dbPath, ['--index-file', 'src/late.ts', contentFile, '--checkpoint']);
    expect(existsSync(`${dbPath}.wal`)).toBe(false);
    expectEmbecodeLocked(await rejectionOf(searchReadOnly(dbPath, PROFILE_QUERIES)), owner.pid);
    expectDuckDBLockConflict(await rejectionOf(openRaw(dbPath, 'READ_ONLY')), dbPath, owner.pid);
    expect(await owner.stop()).toMatchObject({ exitCode: 0 });
  });

  test('a raw holder that has only CHECKPOINTed, with nothing written, still conflicts', async () => {
    const path = await plainDb();
    const owner = await startOwner(path, ['--raw', '--checkpoint']);
    expectDuckDBLockConflict(await rejectionOf(openRaw(path, 'READ_ONLY')), path, owner.pid);
    expect(await owner.stop()).toMatchObject({ exitCode: 0 });
  });
});
