import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { Database } from '../../src/index/database.js';
import { buildIndex } from '../support/index-fixture.js';
import { expectEmbecodeLocked, rejectionOf } from '../support/lock-assertions.js';
import { assertNoSurvivors, probeOpen, startOwner, stopAllOwners } from '../support/owner.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * Every index this process opens as owner is ATTACHed to one shared in-memory DuckDB instance
 * (src/index/shared-instance.ts). What that must not change, checked from other processes: each
 * file's lock is taken on open and gone when close() resolves, and letting go of one file leaves
 * the locks on the others alone.
 */

const opened: Database[] = [];

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  await stopAllOwners();
  await removeTempDirs();
});

afterAll(() => {
  assertNoSurvivors();
});

async function openOwner(path: string): Promise<Database> {
  const db = await Database.open(path, { mode: 'owner' });
  opened.push(db);
  return db;
}

describe('indexes ATTACHed to the shared instance', () => {
  test('closing one index lets go of its file only: another index of this process stays locked', async () => {
    const a = (await buildIndex(await makeTempDir())).dbPath;
    const b = (await buildIndex(await makeTempDir())).dbPath;
    const first = await openOwner(a);
    await openOwner(b);
    await first.close();
    expect(await probeOpen(a)).toMatchObject({ opened: true });
    expect(await probeOpen(b)).toMatchObject({ opened: false });
  });

  test('a second open of a file this process has open is refused as locked by this process, and the first keeps its lock', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const db = await openOwner(dbPath);
    const error = await rejectionOf(Database.open(dbPath, { mode: 'owner' }), (d) => d.close());
    expect(error).toBeInstanceOf(EmbecodeError);
    expect(error).toMatchObject({ kind: 'locked' });
    expect((error as Error).message).toContain(`this same process (${process.pid})`);
    expect(await probeOpen(dbPath)).toMatchObject({ opened: false });
    // The refused open attached nothing: the file is free once the first closes.
    await db.close();
    expect(await probeOpen(dbPath)).toMatchObject({ opened: true });
  });

  test('an open refused by another process attaches nothing: the file opens once that process stops', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const holder = await startOwner(dbPath);
    expectEmbecodeLocked(
      await rejectionOf(Database.open(dbPath, { mode: 'owner' }), (d) => d.close()),
      holder.pid,
    );
    expect(await holder.stop()).toMatchObject({ exitCode: 0 });
    const db = await openOwner(dbPath);
    expect((await db.stats()).files).toBeGreaterThan(0);
    await db.close();
    expect(await probeOpen(dbPath)).toMatchObject({ opened: true });
  });

  test('open, write, close and open again in one process: each open holds, each close frees', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    let files = -1;
    for (let round = 0; round < 2; round++) {
      const db = await openOwner(dbPath);
      const stats = await db.stats();
      if (files >= 0) expect(stats.files).toBe(files);
      files = stats.files;
      await db.deleteFiles([`missing-${round}.ts`]);
      await db.checkpoint();
      expect(await probeOpen(dbPath)).toMatchObject({ opened: false });
      await db.close();
      expect(await probeOpen(dbPath)).toMatchObject({ opened: true });
    }
  });

  test('two readers of one file in this process share its ATTACH: it stays open until the last closes', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const first = await Database.open(dbPath, { mode: 'reader', openVia: 'attach' });
    opened.push(first);
    const second = await Database.open(dbPath, { mode: 'reader', openVia: 'attach' });
    opened.push(second);
    const files = (await first.stats()).files;
    await first.close();
    expect((await second.stats()).files).toBe(files);
    expect(await probeOpen(dbPath)).toMatchObject({ opened: false });
    await second.close();
    expect(await probeOpen(dbPath)).toMatchObject({ opened: true });
  });

  test('a reader opened the attach way shares the instance too and frees the file on close', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const reader = await Database.open(dbPath, { mode: 'reader', openVia: 'attach' });
    opened.push(reader);
    expect(await probeOpen(dbPath)).toMatchObject({ opened: false });
    await reader.close();
    expect(await probeOpen(dbPath)).toMatchObject({ opened: true });
  });
});
