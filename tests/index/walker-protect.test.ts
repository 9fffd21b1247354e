import { statSync } from 'node:fs';
import { link, mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { procLocksAvailable, procWriteLockHolders } from '../../src/election/proc-locks.js';
import { type SkipReason, walkProject } from '../../src/index/walker.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const opened: DuckDBInstance[] = [];

afterEach(async () => {
  for (const instance of opened.splice(0)) instance.closeSync();
  await removeTempDirs();
});

async function write(root: string, files: Record<string, string>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    await mkdir(dirname(join(root, path)), { recursive: true });
    await writeFile(join(root, path), content);
  }
}

async function walk(root: string, options: Parameters<typeof walkProject>[1]) {
  const paths: string[] = [];
  const skipped: { path: string; reason: SkipReason; detail: string }[] = [];
  const warnings: string[] = [];
  for await (const file of walkProject(root, {
    ...options,
    onSkip: (path, reason, detail) => skipped.push({ path, reason, detail }),
    onWarning: (message) => warnings.push(message),
  })) {
    paths.push(file.path);
  }
  return { paths, skipped, warnings };
}

describe('walkProject protect', () => {
  it('skips a protected file by identity, under every name it has, and says why', async () => {
    const root = await makeTempDir();
    await write(root, { 'a.ts': 'export const a = 1;', 'keep.ts': 'export const keep = 1;' });
    await mkdir(join(root, 'sub'));
    await link(join(root, 'a.ts'), join(root, 'sub', 'same-as-a.ts'));
    const { dev, ino } = statSync(join(root, 'a.ts'));

    const { paths, skipped } = await walk(root, { protect: [{ dev, ino, what: 'the test file' }] });
    expect(paths).toEqual(['keep.ts']);
    expect(skipped.map(({ path, reason }) => ({ path, reason }))).toEqual([
      { path: 'a.ts', reason: 'protected' },
      { path: 'sub/same-as-a.ts', reason: 'protected' },
    ]);
    expect(skipped[0]?.detail).toContain('the test file');
    expect(skipped[0]?.detail).toContain(`inode ${ino}`);
  });

  it('asks a predicate with bigint identities, once per file, and skips what it names', async () => {
    const root = await makeTempDir();
    await write(root, { 'a.ts': 'a', 'b.ts': 'b' });
    const b = statSync(join(root, 'b.ts'), { bigint: true });
    const asked: { dev: bigint; ino: bigint }[] = [];
    const { paths, skipped } = await walk(root, {
      protect: (id) => {
        asked.push(id);
        return id.dev === b.dev && id.ino === b.ino ? 'b, held' : undefined;
      },
    });
    expect(paths).toEqual(['a.ts']);
    expect(skipped.map((s) => s.reason)).toEqual(['protected']);
    expect(asked).toHaveLength(2);
    expect(typeof asked[0]?.ino).toBe('bigint');
  });

  it('does not read ignore rules from a protected .gitignore', async () => {
    const root = await makeTempDir();
    await write(root, { 'rules.txt': 'ignored.ts\n', 'ignored.ts': 'x' });
    await link(join(root, 'rules.txt'), join(root, '.gitignore'));
    const { dev, ino } = statSync(join(root, 'rules.txt'));

    const { paths, skipped, warnings } = await walk(root, { protect: [{ dev, ino, what: 'held' }] });
    expect(paths).toEqual(['ignored.ts']);
    expect(skipped.map((s) => s.path)).toEqual(['.gitignore', 'rules.txt']);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('not reading ignore rules from .gitignore');
  });

  // The proof that nothing opened the file: this process holds a DuckDB lock on it, and closing any
  // descriptor of it in this process would drop that lock.
  it.skipIf(!procLocksAvailable())(
    "leaves this process's DuckDB lock in place on a protected file it walks past by two names",
    async () => {
      const root = await makeTempDir();
      await write(root, { 'src/main.ts': 'export const main = 1;' });
      await mkdir(join(root, 'data'));
      const db = join(root, 'data', 'held.db');
      opened.push(await DuckDBInstance.create(db));
      await link(db, join(root, 'held-again.db'));
      expect(await procWriteLockHolders(db)).toEqual([process.pid]);

      const { dev, ino } = statSync(db, { bigint: true });
      const { paths, skipped } = await walk(root, { protect: [{ dev, ino, what: 'the held index' }] });
      expect(paths).toEqual(['src/main.ts']);
      expect(skipped.map(({ path, reason }) => ({ path, reason }))).toEqual([
        { path: 'held-again.db', reason: 'protected' },
        { path: 'data/held.db', reason: 'protected' },
      ]);
      expect(await procWriteLockHolders(db)).toEqual([process.pid]);

      // The same walk unprotected is what the owner did before: the lock is gone after it.
      await walk(root, {});
      expect(await procWriteLockHolders(db)).toEqual([]);
    },
  );
});
