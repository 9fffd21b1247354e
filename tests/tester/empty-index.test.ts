import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/index/database.js';
import { createDefaultEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import { copyEmptyIndex, createEmptyIndex } from '../../src/tester/empty-index.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const embedder = createDefaultEmbedder();

afterEach(removeTempDirs);

describe('the empty index runs start from', () => {
  it('is a complete embecode index with no files, no WAL, for the tester embedder', async () => {
    const dir = await makeTempDir();
    const template = await createEmptyIndex(join(dir, 'empty.db'), embedder);
    expect(existsSync(`${template}.wal`)).toBe(false);
    const db = await Database.open(template, { mode: 'reader' });
    try {
      expect(await db.stats()).toMatchObject({
        files: 0,
        chunks: 0,
        postings: 0,
        dimensions: embedder.dimensions,
        embedder: embedder.name,
      });
    } finally {
      await db.close();
    }
  });

  it('gives each run a file of its own: writing one copy changes neither the template nor another copy', async () => {
    const dir = await makeTempDir();
    const template = await createEmptyIndex(join(dir, 'empty.db'), embedder);
    const before = readFileSync(template);
    const [first, second] = [join(dir, 'run-1.db'), join(dir, 'run-2.db')];
    copyEmptyIndex(template, first);
    copyEmptyIndex(template, second);
    const owner = await Database.open(first, {
      mode: 'owner',
      dimensions: embedder.dimensions,
      embedder: embedder.name,
    });
    try {
      await owner.upsertFiles([await prepareFile('src/a.ts', 'export const alpha = 1;\n', embedder)]);
      expect((await owner.stats()).files).toBe(1);
    } finally {
      await owner.close();
    }
    const other = await Database.open(second, { mode: 'reader' });
    try {
      expect((await other.stats()).files).toBe(0);
    } finally {
      await other.close();
    }
    expect(readFileSync(template).equals(before)).toBe(true);
  });

  it('never overwrites an index that is already there', async () => {
    const dir = await makeTempDir();
    const template = await createEmptyIndex(join(dir, 'empty.db'), embedder);
    const target = join(dir, 'run.db');
    copyEmptyIndex(template, target);
    expect(() => copyEmptyIndex(template, target)).toThrow(/EEXIST/);
  });
});
