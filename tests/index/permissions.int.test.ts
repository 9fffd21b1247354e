import { existsSync, statSync } from 'node:fs';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/index/database.js';
import { prepareDbLocation } from '../../src/index/index-location.js';
import { packageRoot } from '../../src/process/children.js';
import { makeDemoProject } from '../support/demo-project.js';
import { startOwner, stopAllOwners } from '../support/owner.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * The index holds the project's source text: the directories embecode makes for it are 0700, the
 * index file and its WAL 0600, as another process (this one) sees them.
 */
const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'embecode.js');

const modeOf = (path: string): string => (statSync(path).mode & 0o777).toString(8);

afterEach(async () => {
  await stopAllOwners();
  await removeTempDirs();
});

describe('index permissions', () => {
  it('makes the directories it creates 0700 whatever the umask', async () => {
    const base = await makeTempDir();
    const previous = process.umask(0);
    try {
      await prepareDbLocation(join(base, 'a', 'b', 'index.db'));
    } finally {
      process.umask(previous);
    }
    expect([modeOf(join(base, 'a')), modeOf(join(base, 'a', 'b'))]).toEqual(['700', '700']);
    expect(await readdir(join(base, 'a', 'b'))).toEqual([]); // the writability probe is gone
  });

  it('`embecode index` leaves a 0700 cache directory and a 0600 index', async () => {
    const cacheHome = await makeTempDir('embecode-perm-cache-');
    const dir = await makeDemoProject('embecode-perm-project-');
    const result = await execa(process.execPath, [CLI, 'index', dir, '--json'], {
      reject: false,
      env: { XDG_CACHE_HOME: cacheHome },
      timeout: 60_000,
    });
    expect(result.exitCode, result.stderr).toBe(0);
    const db = (JSON.parse(result.stdout) as { db: string }).db;
    const cache = join(cacheHome, 'embecode');
    const [projectDir] = await readdir(cache);
    expect(modeOf(cache)).toBe('700');
    expect(modeOf(join(cache, projectDir as string))).toBe('700');
    expect(modeOf(db)).toBe('600');
  });

  it('an owner keeps the index and the WAL it writes 0600, and keeps its lock doing so', async () => {
    const dir = await makeTempDir();
    const db = join(dir, 'index.db');
    const content = join(dir, 'content.ts');
    await writeFile(content, 'export function privateSource() { return 42; }\n');
    // One write transaction and no checkpoint: the WAL DuckDB created for it is still there.
    const owner = await startOwner(db, ['--index-file', 'src/private.ts', content]);
    expect(existsSync(`${db}.wal`)).toBe(true);
    expect(modeOf(db)).toBe('600');
    expect(modeOf(`${db}.wal`)).toBe('600');
    // chmod goes by path and opens no descriptor: the owner's lock is still held.
    await expect(Database.open(db, { mode: 'reader' })).rejects.toMatchObject({ kind: 'locked' });
    expect((await owner.stop()).exitCode).toBe(0);
  });
});
