import { mkdir, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { Database } from '../../src/index/database.js';
import { HashingEmbedder } from '../../src/index/embedder.js';
import { type IndexProgress, indexProject } from '../../src/index/indexer.js';
import { Searcher } from '../../src/index/search.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const embedder = new HashingEmbedder({ dimensions: 64 });
const opened: Database[] = [];

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  await removeTempDirs();
});

async function write(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

async function setup(files: Record<string, string | Uint8Array>) {
  const base = await makeTempDir();
  const project = join(base, 'project');
  await mkdir(project);
  await write(project, files);
  const db = await Database.open(join(base, 'index.db'), {
    mode: 'owner',
    dimensions: embedder.dimensions,
    embedder: embedder.name,
  });
  opened.push(db);
  return { base, project, db };
}

const paths = async (db: Database) => [...(await db.fileHashes()).keys()].sort();

describe('indexProject', () => {
  it('indexes a project, then catches up on added, modified and deleted files', async () => {
    const { project, db } = await setup({
      'src/a.ts': 'export function alphaFn() { return 1; }\n',
      'src/b.ts': 'export function betaFn() { return 2; }\n',
      'lib/c.py': 'def gamma_fn():\n    return 3\n',
    });
    const first = await indexProject(project, db, embedder);
    expect(first).toMatchObject({ added: 3, updated: 0, deleted: 0, unchanged: 0, skipped: 0, chunks: 3 });
    expect(first.elapsedMs).toBeGreaterThan(0);

    const again = await indexProject(project, db, embedder);
    expect(again).toMatchObject({ added: 0, updated: 0, deleted: 0, unchanged: 3, chunks: 0 });

    await write(project, {
      'src/a.ts': 'export function alphaRenamed() { return 10; }\n',
      'src/d.ts': 'export function deltaFn() { return 4; }\n',
    });
    await rm(join(project, 'lib/c.py'));
    const catchUp = await indexProject(project, db, embedder);
    expect(catchUp).toMatchObject({ added: 1, updated: 1, deleted: 1, unchanged: 1, chunks: 2 });
    expect(await paths(db)).toEqual(['src/a.ts', 'src/b.ts', 'src/d.ts']);
    expect(await db.stats()).toMatchObject({ files: 3, chunks: 3 });

    const searcher = new Searcher(db, embedder);
    expect((await searcher.search('alphaRenamed', { mode: 'bm25' }))[0]?.path).toBe('src/a.ts');
    // Old content and deleted files are gone from the index (other chunks may share word parts).
    const stale = await searcher.search('alphaFn gamma_fn', { mode: 'bm25', topK: 50 });
    expect(stale.some((r) => r.preview.includes('alphaFn') || r.path === 'lib/c.py')).toBe(false);
  });

  it('honours .gitignore files and removes files that became ignored', async () => {
    const { project, db } = await setup({
      '.gitignore': 'generated/\n*.tmp.ts\n',
      'src/keep.ts': 'export const keep = 1;\n',
      'src/scratch.tmp.ts': 'export const scratch = 1;\n',
      'generated/api.ts': 'export const api = 1;\n',
      'node_modules/dep/index.js': 'module.exports = 1;\n',
      'pkg/.gitignore': 'fixtures/\n',
      'pkg/fixtures/big.ts': 'export const fixture = 1;\n',
      'pkg/main.ts': 'export const main = 1;\n',
    });
    await indexProject(project, db, embedder);
    expect(await paths(db)).toEqual(['.gitignore', 'pkg/.gitignore', 'pkg/main.ts', 'src/keep.ts']);

    await write(project, { '.gitignore': 'generated/\n*.tmp.ts\nsrc/keep.ts\n' });
    const report = await indexProject(project, db, embedder);
    expect(report).toMatchObject({ updated: 1, deleted: 1 });
    expect(await paths(db)).toEqual(['.gitignore', 'pkg/.gitignore', 'pkg/main.ts']);
  });

  it('skips binary, huge and undecodable files, counts them, and drops them from the index', async () => {
    const { project, db } = await setup({
      'ok.ts': 'export const ok = 1;\n',
      'logo.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00]),
      'huge.ts': `export const huge = '${'x'.repeat(5000)}';\n`,
      // Not UTF-8, and a control byte (0x01) rules out Latin-1 text.
      'latin1.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x01, 0x0a]),
      'grows.ts': 'export const small = 1;\n',
    });
    const skippedPaths: string[] = [];
    const first = await indexProject(project, db, embedder, {
      maxFileBytes: 4096,
      onSkip: (path) => skippedPaths.push(path),
    });
    expect(first).toMatchObject({ added: 2, skipped: 3 });
    expect(skippedPaths.sort()).toEqual(['huge.ts', 'latin1.txt', 'logo.png']);
    expect(await paths(db)).toEqual(['grows.ts', 'ok.ts']);

    // A file that grows past the limit leaves the index.
    await write(project, { 'grows.ts': `export const big = '${'y'.repeat(5000)}';\n` });
    const second = await indexProject(project, db, embedder, { maxFileBytes: 4096 });
    expect(second).toMatchObject({ deleted: 1, skipped: 4, unchanged: 1 });
    expect(await paths(db)).toEqual(['ok.ts']);
  });

  it('writes in batches and reports progress until done', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 25; i++) files[`src/f${i}.ts`] = `export function fn${i}() { return ${i}; }\n`;
    const { project, db } = await setup(files);
    const progress: IndexProgress[] = [];
    const report = await indexProject(project, db, embedder, {
      batchFiles: 4,
      progressEvery: 10,
      onProgress: (p) => progress.push(p),
    });
    expect(report).toMatchObject({ added: 25, chunks: 25 });
    expect(progress.at(-1)).toMatchObject({ done: true, filesSeen: 25, filesWritten: 25, chunksWritten: 25 });
    expect(progress.filter((p) => !p.done).length).toBeGreaterThanOrEqual(7);
    const written = progress.map((p) => p.filesWritten);
    expect([...written].sort((a, b) => a - b)).toEqual(written);
    expect(await db.stats()).toMatchObject({ files: 25, chunks: 25 });
  });

  it('does not index its own index file when it lives inside the project', async () => {
    const base = await makeTempDir();
    await write(base, { 'src/a.ts': 'export const a = 1;\n' });
    const db = await Database.open(join(base, 'index.db'), {
      mode: 'owner',
      dimensions: embedder.dimensions,
      embedder: embedder.name,
    });
    opened.push(db);
    await indexProject(base, db, embedder);
    await indexProject(base, db, embedder);
    expect(await paths(db)).toEqual(['src/a.ts']);
  });

  it('fails with a one-line usage error for a missing directory or a file, writing nothing', async () => {
    const { base, db } = await setup({ 'a.ts': 'export const a = 1;\n' });
    for (const dir of [join(base, 'missing'), join(base, 'project', 'a.ts')]) {
      const error = await indexProject(dir, db, embedder).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbecodeError);
      expect(error).toMatchObject({ kind: 'usage' });
      expect((error as Error).message).toContain(dir);
      expect((error as Error).message).not.toContain('\n');
    }
    expect(await db.stats()).toMatchObject({ files: 0 });
  });

  it('refuses an embedder that does not match the index', async () => {
    const { project, db } = await setup({ 'a.ts': 'export const a = 1;\n' });
    await expect(indexProject(project, db, new HashingEmbedder({ dimensions: 32 }))).rejects.toMatchObject({
      kind: 'usage',
    });
  });
});
