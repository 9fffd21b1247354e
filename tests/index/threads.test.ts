import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { Database, ROW_GROUP_SIZE } from '../../src/index/database.js';
import { createDefaultEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import { allThreads, SMALL_INDEX_THREADS } from '../../src/index/threads.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * DuckDB runs a process's queries on one thread while every index it serves fits in one row group,
 * and on every core once one does not (src/index/threads.ts). The tests run in this order: the
 * process's shared instance, once given every core, keeps them.
 */

const embedder = createDefaultEmbedder();
const opened: Database[] = [];

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  await removeTempDirs();
});

async function open(path: string, options: Parameters<typeof Database.open>[1]): Promise<Database> {
  const db = await Database.open(path, {
    dimensions: embedder.dimensions,
    embedder: embedder.name,
    ...options,
  });
  opened.push(db);
  return db;
}

async function threadsOf(db: Database): Promise<number> {
  const reader = await db.read((conn) => conn.runAndReadAll("SELECT current_setting('threads')"));
  return Number(reader.getRows()[0]?.[0]);
}

/** A file of `words` distinct words: about that many postings, spread over its chunks. */
function distinctWords(words: number): string {
  const lines: string[] = [];
  for (let i = 0; i < words; i += 8) {
    const line: string[] = [];
    for (let j = i; j < Math.min(words, i + 8); j++) line.push(`term${j.toString(36)}x`);
    lines.push(line.join(' '));
  }
  return `${lines.join('\n')}\n`;
}

async function indexWith(dir: string, words: number): Promise<string> {
  const path = join(dir, 'index.db');
  const db = await open(path, { mode: 'owner' });
  await db.upsertFiles([await prepareFile('words.txt', distinctWords(words), embedder)]);
  return path;
}

describe('threads DuckDB runs queries with', () => {
  test('a small index is served on one thread, by its owner and by a reader of its own instance', async () => {
    const path = await indexWith(await makeTempDir(), 500);
    const owner = opened[0] as Database;
    expect(await threadsOf(owner)).toBe(SMALL_INDEX_THREADS);
    await owner.close();
    const reader = await open(path, { mode: 'reader', openVia: 'options' });
    expect((await reader.stats()).postings).toBeGreaterThan(0);
    expect(await threadsOf(reader)).toBe(SMALL_INDEX_THREADS);
  });

  test('an owner whose index grows past one row group gets every core with the write that crossed', async () => {
    const dir = await makeTempDir();
    const owner = await open(join(dir, 'index.db'), { mode: 'owner' });
    await owner.upsertFiles([await prepareFile('a.txt', distinctWords(ROW_GROUP_SIZE / 2), embedder)]);
    expect(await threadsOf(owner)).toBe(SMALL_INDEX_THREADS);
    await owner.upsertFiles([await prepareFile('b.txt', distinctWords(ROW_GROUP_SIZE), embedder)]);
    expect((await owner.stats()).postings).toBeGreaterThan(ROW_GROUP_SIZE);
    expect(await threadsOf(owner)).toBe(allThreads());
  });

  test('a reader opening an index past one row group gets every core at once', async () => {
    const path = await indexWith(await makeTempDir(), ROW_GROUP_SIZE + 2000);
    await (opened[0] as Database).close();
    const reader = await open(path, { mode: 'reader', openVia: 'options' });
    expect((await reader.stats()).postings).toBeGreaterThan(ROW_GROUP_SIZE);
    expect(await threadsOf(reader)).toBe(allThreads());
  });
});
