import { existsSync } from 'node:fs';
import { link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/election/election.js';
import { procLocksAvailable, procWriteLockHolders } from '../../src/election/proc-locks.js';
import { Database } from '../../src/index/database.js';
import { HashingEmbedder } from '../../src/index/embedder.js';
import { indexProject } from '../../src/index/indexer.js';
import type { SkipReason } from '../../src/index/walker.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * The indexer runs in the process that holds the index (and, under serve, the election lock), so it
 * must not open either by any name. This process plays that holder: the locks it holds are the
 * proof, since one open and close of the file here would drop them.
 */
const embedder = new HashingEmbedder({ dimensions: 64 });
const toClose: { close(): void | Promise<void> }[] = [];

afterEach(async () => {
  for (const item of toClose.splice(0).reverse()) await item.close();
  await removeTempDirs();
});

/** A project keeping its index in `real/`, opened as `link/index.db` through `link -> real`. */
async function setup() {
  const project = join(await makeTempDir('embecode-indexer-protect-'), 'project');
  await mkdir(join(project, 'src'), { recursive: true });
  await writeFile(join(project, 'src', 'a.ts'), 'export function alphaFn() { return 1; }\n');
  await mkdir(join(project, 'real'));
  await symlink('real', join(project, 'link'), 'dir');
  const dbPath = join(project, 'link', 'index.db');
  const db = await Database.open(dbPath, {
    mode: 'owner',
    dimensions: embedder.dimensions,
    embedder: embedder.name,
  });
  toClose.push(db);
  return { project, dbPath, realDb: join(project, 'real', 'index.db'), db };
}

async function run(project: string, db: Database, options: { checkpoint?: boolean } = {}) {
  const skipped: { path: string; reason: SkipReason; detail: string }[] = [];
  const report = await indexProject(project, db, embedder, {
    ...options,
    onSkip: (path, reason, detail) => skipped.push({ path, reason, detail }),
  });
  return { report, skipped };
}

describe.skipIf(!procLocksAvailable())('indexProject protects the files its process holds locked', () => {
  it('skips the index reached through a symlinked directory and a hard link, and the election lock by a hard link', async () => {
    const { project, dbPath, realDb, db } = await setup();
    // An election lock as serve keeps it: a DuckDB file held read-write by this process.
    const lockPath = join(`${realDb}.state`, LOCK_FILE);
    await mkdir(dirname(lockPath), { mode: 0o700 });
    const lock = await DuckDBInstance.create(lockPath);
    toClose.push({ close: () => lock.closeSync() });
    await link(realDb, join(project, 'index-again.db'));
    await link(lockPath, join(project, 'lock-again.db'));
    expect(await procWriteLockHolders(realDb)).toEqual([process.pid]);
    expect(await procWriteLockHolders(lockPath)).toEqual([process.pid]);

    const { report, skipped } = await run(project, db);
    expect(report).toMatchObject({ added: 1 });
    const protectedFiles = skipped.filter((s) => s.reason === 'protected');
    // The WAL, when the open left one, is found as real/index.db.wal too, which no path names.
    const wal = protectedFiles.find((s) => s.path === 'real/index.db.wal');
    if (wal !== undefined) expect(wal.detail).toContain("the index's WAL");
    expect(
      protectedFiles
        .map((s) => s.path)
        .filter((path) => path !== wal?.path)
        .sort(),
    ).toEqual(['index-again.db', 'lock-again.db', 'real/index.db', 'real/index.db.state/owner.lock.db']);
    expect(protectedFiles.find((s) => s.path === 'real/index.db')?.detail).toContain(`the index ${dbPath}`);
    expect(protectedFiles.find((s) => s.path === 'lock-again.db')?.detail).toContain('the election lock');

    expect(await procWriteLockHolders(realDb)).toEqual([process.pid]);
    expect(await procWriteLockHolders(lockPath)).toEqual([process.pid]);
  });

  it("skips a hard link to the index's WAL, which is looked up again as it comes and goes", async () => {
    const { project, realDb, db } = await setup();
    await run(project, db, { checkpoint: false });
    const wal = `${realDb}.wal`;
    expect(existsSync(wal)).toBe(true);
    expect(await procWriteLockHolders(wal)).toEqual([process.pid]);
    await link(wal, join(project, 'wal-again'));
    await writeFile(join(project, 'src', 'b.ts'), 'export function betaFn() { return 2; }\n');

    const { report, skipped } = await run(project, db, { checkpoint: false });
    expect(report).toMatchObject({ added: 1 });
    expect(skipped.filter((s) => s.reason === 'protected').map((s) => s.path)).toContain('wal-again');
    expect(await procWriteLockHolders(wal)).toEqual([process.pid]);
  });
});
