import { statSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve, sep } from 'node:path';
import { LOCK_FILE } from '../election/election.js';
import { stateDirForIndex } from '../election/state-dir.js';
import { EmbecodeError } from '../errors.js';
import type { Database } from './database.js';
import type { Embedder } from './embedder.js';
import { contentHash, prepareFile } from './prepare.js';
import type { PreparedFile } from './types.js';
import { assertDirectory, type ProtectCheck, type SkipReason, walkProject } from './walker.js';

/**
 * Catch-up indexing: brings an index in line with a project directory. New and changed files (by
 * content hash) are chunked, embedded and written; files that are gone, or no longer indexable, are
 * deleted; unchanged files cost one read and one hash.
 *
 * Writes go in batches, one transaction each, so a search running meanwhile sees whole batches, and
 * an interrupted run loses at most the batch in flight (the next run catches up). The next batch is
 * prepared in JS while DuckDB writes the previous one.
 */

export interface IndexReport {
  /** Files that were not in the index. */
  readonly added: number;
  /** Files whose content changed. */
  readonly updated: number;
  /** Files removed from the index: gone from disk, now ignored, or no longer indexable. */
  readonly deleted: number;
  readonly unchanged: number;
  /** Files skipped as binary, too large, not UTF-8, unreadable, or protected (a file this process holds locked). */
  readonly skipped: number;
  /** Chunks written by this run. */
  readonly chunks: number;
  readonly elapsedMs: number;
}

export interface IndexProgress {
  /** Indexable files looked at so far. */
  readonly filesSeen: number;
  /** New or changed files written so far. */
  readonly filesWritten: number;
  readonly chunksWritten: number;
  readonly skipped: number;
  readonly elapsedMs: number;
  readonly done: boolean;
}

export interface IndexOptions {
  /** Called every `progressEvery` files, after each batch is written, and once at the end. */
  readonly onProgress?: (progress: IndexProgress) => void;
  /** Default 500 files. */
  readonly progressEvery?: number;
  readonly onSkip?: (path: string, reason: SkipReason, detail: string) => void;
  readonly onWarning?: (message: string) => void;
  /** Files per write transaction; default 1000. */
  readonly batchFiles?: number;
  /**
   * A batch is also written once it holds this many chunks; default 10,000. Bigger batches mean
   * fewer commits (each one fsyncs) and longer term-sorted runs of postings (faster BM25, see
   * ROW_GROUP_SIZE in database.ts); ~10k chunks hold ~50 MB of prepared data.
   */
  readonly batchChunks?: number;
  readonly maxFileBytes?: number;
  /** Checkpoint when done, so the main file holds everything; default true. */
  readonly checkpoint?: boolean;
}

export const DEFAULT_BATCH_FILES = 1000;
export const DEFAULT_BATCH_CHUNKS = 10_000;
const DELETE_BATCH = 1000;
/**
 * While a write is in flight, preparation (synchronous: the walker reads files with sync calls) yields
 * to the event loop at least this often, so that each step of the write (its queries are async, in
 * DuckDB's threads) starts as soon as the previous one is done instead of at the next flush. Without
 * it the two barely overlapped: ~7,700 chunks/s at 100k chunks on 2 cores, ~10,000 with it.
 */
const YIELD_EVERY_MS = 1;

const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export async function indexProject(
  dir: string,
  db: Database,
  embedder: Embedder,
  options: IndexOptions = {},
): Promise<IndexReport> {
  const started = performance.now();
  await assertDirectory(dir);
  checkEmbedder(db, embedder);
  const batchFiles = options.batchFiles ?? DEFAULT_BATCH_FILES;
  const batchChunks = options.batchChunks ?? DEFAULT_BATCH_CHUNKS;
  const progressEvery = options.progressEvery ?? 500;

  const known = await db.fileHashes();
  const seen = new Set<string>();
  let added = 0;
  let updated = 0;
  let unchanged = 0;
  let skipped = 0;
  let chunks = 0;
  let filesWritten = 0;

  const progress = (done: boolean) =>
    options.onProgress?.({
      filesSeen: seen.size,
      filesWritten,
      chunksWritten: chunks,
      skipped,
      elapsedMs: performance.now() - started,
      done,
    });

  // One write in flight while the next batch is prepared. Its failure is kept and rethrown at the
  // next await, so it never surfaces as an unhandled rejection.
  let inFlight: Promise<void> = Promise.resolve();
  let writeError: { error: unknown } | undefined;
  let batch: PreparedFile[] = [];
  let batchChunkCount = 0;
  let writing = false;
  let lastYield = 0;
  const flush = async () => {
    await inFlight;
    if (writeError !== undefined) throw writeError.error;
    if (batch.length === 0) return;
    const files = batch;
    batch = [];
    batchChunkCount = 0;
    writing = true;
    inFlight = db.upsertFiles(files).then(
      () => {
        writing = false;
        filesWritten += files.length;
        for (const file of files) chunks += file.chunks.length;
        progress(false);
      },
      (error: unknown) => {
        writing = false;
        writeError = { error };
      },
    );
  };

  const exclude = await indexFilesInside(dir, db.path);
  for await (const file of walkProject(dir, {
    exclude,
    protect: lockedFilesOf(db.path),
    ...(options.maxFileBytes === undefined ? {} : { maxFileBytes: options.maxFileBytes }),
    onSkip: (path, reason, detail) => {
      skipped++;
      options.onSkip?.(path, reason, detail);
    },
    ...(options.onWarning === undefined ? {} : { onWarning: options.onWarning }),
  })) {
    seen.add(file.path);
    if (seen.size % progressEvery === 0) progress(false);
    const previous = known.get(file.path);
    if (previous !== undefined && previous === contentHash(file.content)) {
      unchanged++;
      continue;
    }
    if (previous === undefined) added++;
    else updated++;
    if (writing && performance.now() - lastYield > YIELD_EVERY_MS) {
      await yieldToEventLoop();
      lastYield = performance.now();
    }
    const prepared = await prepareFile(file.path, file.content, embedder);
    batch.push(prepared);
    batchChunkCount += prepared.chunks.length;
    if (batch.length >= batchFiles || batchChunkCount >= batchChunks) await flush();
  }
  await flush(); // starts the last batch's write
  await flush(); // waits for it and rethrows its failure

  const gone = [...known.keys()].filter((path) => !seen.has(path));
  for (let i = 0; i < gone.length; i += DELETE_BATCH) await db.deleteFiles(gone.slice(i, i + DELETE_BATCH));
  if ((options.checkpoint ?? true) && added + updated + gone.length > 0) await db.checkpoint();
  progress(true);
  return {
    added,
    updated,
    deleted: gone.length,
    unchanged,
    skipped,
    chunks,
    elapsedMs: performance.now() - started,
  };
}

/** Refuses an embedder whose vectors the index cannot compare with its own. */
function checkEmbedder(db: Database, embedder: Embedder): void {
  if (embedder.dimensions !== db.dimensions) {
    throw new EmbecodeError(
      'usage',
      `index ${db.path} holds ${db.dimensions}-dimensional embeddings but embedder ${embedder.name} makes ${embedder.dimensions}; use another --db`,
    );
  }
  if (db.embedder !== 'unknown' && db.embedder !== embedder.name) {
    throw new EmbecodeError(
      'usage',
      `index ${db.path} was built with embedder ${db.embedder}, not ${embedder.name}; use another --db or delete it to re-index`,
    );
  }
}

/**
 * The files a process holding this index may hold locked, by identity: the index and its WAL (DuckDB
 * locks both, checked in /proc/locks), and the election lock `embecode serve` keeps in the index's
 * state directory (src/election/election.ts) with its WAL. Path exclusion (indexFilesInside) misses
 * them when the project reaches them by another name: a symlinked directory, a hard link, a bind
 * mount, a state directory whose `.gitignore` was deleted.
 *
 * The WAL comes and goes during this very run (created by the first write, removed by a checkpoint,
 * a new inode each time), so it is looked up again for each file the walk is about to open on the
 * index's device (any name of the WAL, hard link or bind mount, is on that device); the other three
 * keep their inode for the life of their holder and are looked up once. A file missing now is simply
 * not protected: a file created later under that name is a new inode nobody locked.
 */
function lockedFilesOf(dbPath: string): ProtectCheck {
  const index = resolve(dbPath);
  const wal = `${index}.wal`;
  const lock = join(stateDirForIndex(index), LOCK_FILE);
  const indexDev = identityOf(index)?.split(':')[0];
  const fixed = new Map<string, string>();
  for (const [path, what] of [
    [index, `the index ${index}`],
    [lock, `the election lock ${lock}`],
    [`${lock}.wal`, `the election lock's WAL ${lock}.wal`],
  ] as const) {
    const key = identityOf(path);
    if (key !== undefined) fixed.set(key, what);
  }
  return (id) => {
    const key = `${id.dev}:${id.ino}`;
    const known = fixed.get(key);
    if (known !== undefined || `${id.dev}` !== indexDev) return known;
    return identityOf(wal) === key ? `the index's WAL ${wal}` : undefined;
  };
}

/** Asked per file for the WAL, so a missing one must not cost a thrown error (measured: ~20 µs each). */
function identityOf(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true, throwIfNoEntry: false });
    return st === undefined ? undefined : `${st.dev}:${st.ino}`;
  } catch {
    return undefined;
  }
}

/** The index file and its WAL, as project-relative paths, when the index lives inside the project. */
async function indexFilesInside(dir: string, dbPath: string): Promise<string[]> {
  const root = await realpath(dir).catch(() => resolve(dir));
  const db = resolve(dbPath);
  const candidates = [relative(root, db), relative(resolve(dir), db)];
  const inside = candidates.filter((rel) => rel !== '' && !rel.startsWith('..') && !isAbsolute(rel));
  return inside.flatMap((rel) => {
    const path = rel.split(sep).join('/');
    return [path, `${path}.wal`];
  });
}
