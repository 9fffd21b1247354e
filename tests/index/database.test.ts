import { existsSync, statSync } from 'node:fs';
import { open as fsOpen, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { Database } from '../../src/index/database.js';
import { HashingEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const embedder = new HashingEmbedder({ dimensions: 64 });
const opened: Database[] = [];

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  await removeTempDirs();
});

async function open(path: string, mode: 'owner' | 'reader' = 'owner', extra: object = {}): Promise<Database> {
  const db = await Database.open(path, {
    mode,
    dimensions: embedder.dimensions,
    embedder: embedder.name,
    ...extra,
  });
  opened.push(db);
  return db;
}

async function dbPath(): Promise<string> {
  return join(await makeTempDir(), 'index.db');
}

const ALPHA =
  'export function alphaOne() {\n  return 1;\n}\n\nexport function alphaTwo() {\n  return 2;\n}\n';
const BETA = 'def beta_handler(request):\n    return request.body\n';

async function rows(db: Database, sql: string): Promise<unknown[][]> {
  return db.read(async (conn) => (await conn.runAndReadAll(sql)).getRows());
}

/** Chunk ids of one file, or of every file, ascending. */
async function chunkIds(db: Database, path?: string): Promise<number[]> {
  const where = path === undefined ? '' : `WHERE path = '${path}'`;
  return (await rows(db, `SELECT id FROM chunks ${where} ORDER BY id`)).map((r) => Number(r[0]));
}

async function expectError(promise: Promise<unknown>, kind: string): Promise<EmbecodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EmbecodeError);
  expect((error as EmbecodeError).kind).toBe(kind);
  expect((error as EmbecodeError).message).not.toContain('\n');
  return error as EmbecodeError;
}

describe('Database', () => {
  it('creates the schema and records version, dimensions and embedder', async () => {
    const db = await open(await dbPath());
    const tables = await rows(
      db,
      'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_catalog = current_database() ORDER BY 1',
    );
    expect(tables.map((r) => r[0])).toEqual(['chunks', 'embeddings', 'files', 'meta', 'postings']);
    const meta = Object.fromEntries((await rows(db, 'SELECT key, value FROM meta')).map(([k, v]) => [k, v]));
    expect(meta).toEqual({ schema_version: '1', dimensions: '64', embedder: embedder.name });
    expect(await db.stats()).toEqual({
      files: 0,
      chunks: 0,
      postings: 0,
      dimensions: 64,
      embedder: embedder.name,
    });
    expect(db.mode).toBe('owner');
  });

  it('upserts, replaces and deletes files, each in one piece', async () => {
    const db = await open(await dbPath());
    await db.upsertFiles([
      await prepareFile('src/alpha.ts', ALPHA, embedder),
      await prepareFile('beta.py', BETA, embedder),
    ]);
    const first = await db.stats();
    expect(first).toMatchObject({ files: 2, chunks: 3 });
    expect(first.postings).toBeGreaterThan(0);
    const hashes = await db.fileHashes();
    expect([...hashes.keys()].sort()).toEqual(['beta.py', 'src/alpha.ts']);

    // Replace: the old rows of the file go, the new ones come, other files are untouched.
    const replaced = 'export function alphaThree() {\n  return 3;\n}\n';
    await db.upsertFiles([await prepareFile('src/alpha.ts', replaced, embedder)]);
    expect(await db.stats()).toMatchObject({ files: 2, chunks: 2 });
    expect((await db.fileHashes()).get('src/alpha.ts')).not.toBe(hashes.get('src/alpha.ts'));
    const contents = (await rows(db, 'SELECT content FROM chunks ORDER BY path')).map((r) => r[0]);
    expect(contents).toEqual([BETA.trimEnd().concat('\n'), replaced]);
    // Every table agrees on which chunks exist: no orphans left by the replace.
    const orphans = await rows(
      db,
      `SELECT (SELECT count(*) FROM embeddings WHERE chunk_id NOT IN (SELECT id FROM chunks)),
              (SELECT count(*) FROM postings WHERE chunk_id NOT IN (SELECT id FROM chunks)),
              (SELECT count(DISTINCT chunk_id) FROM embeddings), (SELECT count(DISTINCT id) FROM chunks)`,
    );
    expect(orphans[0]?.map(Number)).toEqual([0, 0, 2, 2]);

    await db.deleteFiles(['src/alpha.ts', 'not/indexed.ts']);
    expect(await db.stats()).toMatchObject({ files: 1, chunks: 1 });
    expect([...(await db.fileHashes()).keys()]).toEqual(['beta.py']);
    await db.deleteFiles([]);
    await db.upsertFiles([]);
    expect(await db.stats()).toMatchObject({ files: 1, chunks: 1 });
  });

  it('stores a file with no chunks (empty file) and replaces it later', async () => {
    const db = await open(await dbPath());
    await db.upsertFiles([await prepareFile('empty.ts', '', embedder)]);
    expect(await db.stats()).toMatchObject({ files: 1, chunks: 0, postings: 0 });
    await db.upsertFiles([await prepareFile('empty.ts', 'const filled = 1;\n', embedder)]);
    expect(await db.stats()).toMatchObject({ files: 1, chunks: 1 });
  });

  it('keeps its data across close and a new owner open, and keeps chunk ids unique', async () => {
    const path = await dbPath();
    const first = await open(path);
    await first.upsertFiles([await prepareFile('src/alpha.ts', ALPHA, embedder)]);
    await first.checkpoint();
    await first.close();
    expect(first.isOpen).toBe(false);
    await first.close(); // twice is fine

    const again = await open(path);
    expect(await again.stats()).toMatchObject({ files: 1, chunks: 2, dimensions: 64 });
    await again.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    const ids = await rows(again, 'SELECT count(*), count(DISTINCT id) FROM chunks');
    expect(ids[0]?.map(Number)).toEqual([3, 3]);
  });

  it('never gives a new chunk an id used before, after a delete and a reopen', async () => {
    const path = await dbPath();
    let db = await open(path);
    await db.upsertFiles([await prepareFile('src/alpha.ts', ALPHA, embedder)]);
    const used = await chunkIds(db);
    await db.deleteFiles(['src/alpha.ts']);
    await db.close();
    db = await open(path);
    await db.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    const fresh = await chunkIds(db, 'beta.py');
    expect(fresh.length).toBe(1);
    expect(Math.min(...fresh)).toBeGreaterThan(Math.max(...used));
  });

  it('never reuses the highest ids, with the delete in another session than the write', async () => {
    const path = await dbPath();
    let db = await open(path);
    await db.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    await db.upsertFiles([await prepareFile('src/alpha.ts', ALPHA, embedder)]);
    const used = await chunkIds(db);
    await db.close();
    db = await open(path);
    await db.deleteFiles(['src/alpha.ts']); // the chunks holding the highest ids
    await db.checkpoint();
    await db.close();
    db = await open(path);
    await db.upsertFiles([await prepareFile('src/gamma.ts', 'export const gamma = 3;\n', embedder)]);
    expect(Math.min(...(await chunkIds(db, 'src/gamma.ts')))).toBeGreaterThan(Math.max(...used));
  });

  it('does not count the ids of a rolled-back write as used', async () => {
    const path = await dbPath();
    let db = await open(path);
    await db.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    const bad = await prepareFile('bad.ts', 'const bad = 1;', new HashingEmbedder({ dimensions: 8 }));
    await expectError(db.upsertFiles([await prepareFile('src/alpha.ts', ALPHA, embedder), bad]), 'usage');
    await db.close();
    db = await open(path);
    await db.upsertFiles([await prepareFile('src/alpha.ts', ALPHA, embedder)]);
    expect(await chunkIds(db)).toEqual([1, 2, 3]);
  });

  it('reads one state in a snapshot while writes commit, the vector cache included', async () => {
    const db = await open(await dbPath());
    await db.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    await db.vectorCache();
    const count = async (conn: DuckDBConnection) =>
      Number((await conn.runAndReadAll('SELECT count(*) FROM chunks')).getRows()[0]?.[0]);
    const query = (await embedder.embed(['alphaOne']))[0] as Float32Array;
    const seen = await db.snapshot(async (conn, cache) => {
      const cached = cache?.search(query, 10, null).length;
      const before = await count(conn);
      await db.upsertFiles([await prepareFile('src/alpha.ts', ALPHA, embedder)]);
      await db.deleteFiles(['beta.py']);
      const after = await count(conn);
      const late = (() => {
        try {
          return cache?.search(query, 10, null);
        } catch (error) {
          return (error as EmbecodeError).kind;
        }
      })();
      return { cached, before, after, late };
    });
    // DuckDB keeps the transaction's snapshot; the cache view refuses to be read once it may differ.
    expect(seen).toEqual({ cached: 1, before: 1, after: 1, late: 'internal' });
    expect(await db.stats()).toMatchObject({ files: 1, chunks: 2 });
    expect((await db.vectorCache())?.size).toBe(2);
  });

  it('a snapshot aborted before its turn never runs; one aborted while it runs is interrupted', async () => {
    const db = await open(await dbPath());
    await db.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    // A statement that would run for minutes: only the interrupt can end it.
    const endless = 'SELECT count(*) FROM range(1000000000000) a WHERE a.range % 7 = 3';
    const running = new AbortController();
    let started!: () => void;
    const startedNow = new Promise<void>((resolve) => {
      started = resolve;
    });
    const long = db.snapshot(async (conn) => {
      started();
      return (await conn.runAndReadAll(endless)).getRows();
    }, running.signal);
    const queued = new AbortController();
    let queuedRan = false;
    const behind = db.snapshot(async () => {
      queuedRan = true;
    }, queued.signal);
    await startedNow;
    queued.abort(new Error('the caller gave up while queued'));
    running.abort(new Error('the caller gave up while it ran'));
    await expect(long).rejects.toThrow('the caller gave up while it ran');
    await expect(behind).rejects.toThrow('the caller gave up while queued');
    expect(queuedRan).toBe(false);
    // The read connection is usable again, its transaction rolled back.
    expect(await db.stats()).toMatchObject({ files: 1 });
    const after = await db.snapshot(async (conn) => (await conn.runAndReadAll('SELECT 42')).getRows());
    expect(after).toEqual([[42]]);
  });

  it('checkpoints the file itself (no WAL left behind)', async () => {
    const path = await dbPath();
    const db = await open(path);
    await db.upsertFiles([await prepareFile('src/alpha.ts', ALPHA, embedder)]);
    await db.checkpoint();
    expect(existsSync(`${path}.wal`) ? statSync(`${path}.wal`).size : 0).toBe(0);
  });

  it('opens the same data through either open route', async () => {
    const path = await dbPath();
    const owner = await open(path, 'owner', { openVia: 'options' });
    await owner.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    await owner.close();
    for (const openVia of ['options', 'attach'] as const) {
      const reader = await open(path, 'reader', { openVia });
      expect(await reader.stats()).toMatchObject({ files: 1, chunks: 1 });
      await reader.close();
    }
  });

  it('as a reader, reads but refuses every write', async () => {
    const path = await dbPath();
    const owner = await open(path);
    await owner.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    await owner.close();
    const reader = await Database.open(path, { mode: 'reader' });
    opened.push(reader);
    expect(reader).toMatchObject({ mode: 'reader', dimensions: 64, embedder: embedder.name });
    expect(await reader.stats()).toMatchObject({ files: 1, chunks: 1 });
    const error = await expectError(
      reader.upsertFiles([await prepareFile('x.ts', 'const x = 1;', embedder)]),
      'usage',
    );
    expect(error.message).toContain('read-only');
    await expectError(reader.deleteFiles(['beta.py']), 'usage');
    await expectError(reader.checkpoint(), 'usage');
    expect(await reader.stats()).toMatchObject({ files: 1, chunks: 1 });
  });

  it('refuses a different embedding size, for an open and for a write', async () => {
    const path = await dbPath();
    const owner = await open(path);
    await expectError(
      owner.upsertFiles([await prepareFile('a.ts', 'const a = 1;', new HashingEmbedder({ dimensions: 32 }))]),
      'usage',
    );
    expect(await owner.stats()).toMatchObject({ files: 0, chunks: 0 });
    await owner.close();
    const error = await expectError(Database.open(path, { mode: 'owner', dimensions: 128 }), 'usage');
    expect(error.message).toContain('64');
    expect(error.message).toContain('128');
  });

  it('refuses a file that is not a DuckDB database, to an owner and to a reader, and leaves it as it was', async () => {
    const path = await dbPath();
    const text = 'this is not a database '.repeat(500);
    await writeFile(path, text);
    for (const mode of ['owner', 'reader'] as const) {
      const error = await expectError(Database.open(path, { mode }), 'usage');
      expect(error.message).toContain(path);
      expect(error.message).toContain('not an embecode index');
      expect(error.message).toContain('leaves it untouched');
    }
    expect(await readFile(path, 'utf8')).toBe(text);
    expect(existsSync(`${path}.wal`)).toBe(false);
  });

  it('refuses a DuckDB file that is not an embecode index', async () => {
    const path = await dbPath();
    const instance = await DuckDBInstance.create(path);
    const conn = await DuckDBConnection.create(instance);
    await conn.run('CREATE TABLE unrelated (x INTEGER)');
    conn.closeSync();
    instance.closeSync();
    for (const mode of ['owner', 'reader'] as const) {
      const error = await expectError(Database.open(path, { mode }), 'usage');
      expect(error.message).toContain('without the meta, files, chunks, embeddings, postings tables');
    }
  });

  it('finds a partly overwritten file damaged: verify on open, and any read that meets the damage', async () => {
    const path = await dbPath();
    const owner = await open(path);
    const files = [];
    for (let i = 0; i < 300; i++) {
      files.push(
        await prepareFile(`src/f${i}.ts`, `${ALPHA}// file ${i}\n${BETA.repeat(1 + (i % 5))}`, embedder),
      );
    }
    await owner.upsertFiles(files);
    await owner.checkpoint();
    await owner.close();
    const size = statSync(path).size;
    const handle = await fsOpen(path, 'r+');
    await handle.write(Buffer.alloc(64 * 1024, 0xa5), 0, 64 * 1024, Math.floor(size / 2));
    await handle.close();

    for (const mode of ['owner', 'reader'] as const) {
      const error = await expectError(open(path, mode, { verify: true }), 'corrupt');
      expect(error.message).toMatch(
        /^index .+ is damaged \(DuckDB: .*Corrupt database file.*\); run `embecode index --rebuild` with the same project or --db to move it aside and index again$/,
      );
    }
    // Unverified, the open works; a read of every table meets the damage and says the same.
    const reader = await open(path, 'reader');
    await expectError(reader.verify(), 'corrupt');
    const scans = ['meta', 'files', 'chunks', 'embeddings', 'postings'].map((table) =>
      rows(reader, `SELECT bit_xor(hash(COLUMNS(*))) FROM ${table}`).then(
        () => 'read',
        (e: unknown) => (e as EmbecodeError).kind,
      ),
    );
    expect(await Promise.all(scans)).toContain('corrupt');
  });

  it('reports a missing file to a reader as missing, and creates nothing', async () => {
    const path = await dbPath();
    await expectError(Database.open(path, { mode: 'reader' }), 'missing');
    expect(existsSync(path)).toBe(false);
  });

  it('fails every call after close with a one-line usage error', async () => {
    const db = await open(await dbPath());
    await db.close();
    await expectError(db.stats(), 'usage');
    await expectError(db.fileHashes(), 'usage');
    await expectError(db.upsertFiles([]), 'usage');
    await expectError(db.checkpoint(), 'usage');
    expect(db.vectorCache()).toBeUndefined();
  });

  it('rolls a failed write back completely', async () => {
    const db = await open(await dbPath());
    await db.upsertFiles([await prepareFile('beta.py', BETA, embedder)]);
    const good = await prepareFile('src/alpha.ts', ALPHA, embedder);
    const bad = await prepareFile('bad.ts', 'const bad = 1;', new HashingEmbedder({ dimensions: 8 }));
    await expectError(db.upsertFiles([good, bad]), 'usage');
    expect(await db.stats()).toMatchObject({ files: 1, chunks: 1 });
    await db.upsertFiles([good]);
    expect(await db.stats()).toMatchObject({ files: 2, chunks: 3 });
  });
});
