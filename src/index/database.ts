import { chmodSync, existsSync } from 'node:fs';
import { EmbecodeError } from '../errors.js';
import {
  ARRAY,
  arrayValue,
  BIGINT,
  type DuckDBArrayVector,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  type DuckDBValue,
  FLOAT,
  INTEGER,
  LIST,
  listValue,
  TIMESTAMP,
  timestampValue,
  VARCHAR,
} from './duckdb-api.js';
import { classifyDuckDBError, messageOf } from './duckdb-errors.js';
import { REQUIRED_TABLES, SCHEMA_VERSION, schemaStatements } from './schema.js';
import { SerialQueue } from './serial-queue.js';
import { attach } from './shared-instance.js';
import { allThreadsSql, once, SMALL_INDEX_THREADS, spansRowGroups } from './threads.js';
import type { IndexStats, PreparedFile } from './types.js';
import {
  type CachedChunk,
  type CachedHit,
  floatChildItems,
  VectorCache,
  VectorCacheTooLarge,
} from './vector-cache.js';

/** `owner` opens read-write (and creates the schema); `reader` opens READ_ONLY. */
export type AccessMode = 'owner' | 'reader';

export interface OpenOptions {
  readonly mode: AccessMode;
  /** Embedding size for a new index. An existing index keeps its own and refuses a different one. */
  readonly dimensions?: number;
  /** Name of the embedder, recorded on creation so a reader can build the same one. */
  readonly embedder?: string;
  /**
   * How the file is opened: `options` is `DuckDBInstance.create(path, options)`, `attach` an
   * in-memory instance that ATTACHes the file. Both take the same OS lock (hypothesis A). Default:
   * `attach` for the owner, since only ATTACH can set the row-group size (ROW_GROUP_SIZE), and
   * `options` for a reader.
   */
  readonly openVia?: 'options' | 'attach';
  /**
   * Keep a copy of every embedding in memory for vector search (VectorCache): loaded on the first
   * vector search, kept in step with every write. Default: true for the owner (long-lived, serves
   * searches), false for a reader (often one search and gone).
   */
  readonly cacheVectors?: boolean;
  /**
   * Read every block of every table once the file is open (`verify()`), so that a damaged index
   * fails here with kind `corrupt` instead of in the middle of some later search. Default: false.
   */
  readonly verify?: boolean;
}

const APPEND_BATCH = 2048;
/** Owner read-write, nobody else: the index and its WAL hold the project's source. */
export const PRIVATE_FILE_MODE = 0o600;
const DEFAULT_DIMENSIONS = 384;
/**
 * Rows per row group when the owner writes (DuckDB's default: 122,880). DuckDB skips row groups by
 * their min/max statistics, and postings are appended sorted by term within each write batch: with
 * small row groups a BM25 term lookup reads a few row groups per batch instead of the whole table
 * (100k chunks, 6.4M postings: ~3 ms instead of ~40-200 ms). DuckDB does not store this setting in
 * the file, and a checkpoint by an instance opened otherwise merges row groups back to its default.
 */
export const ROW_GROUP_SIZE = 16384;
/**
 * Float compression the owner turns off. ALP makes checkpoints slow, and a vector scan then decodes
 * every vector (~150 MB at 100k x 384); stored plain, the scan is ~40% faster, the file ~15% larger.
 */
const DISABLED_COMPRESSION = 'alp,alprd';
/** Separates terms in the one-string-per-chunk staging of postings; the tokenizer never emits it. */
const TERM_SEPARATOR = '\u001f';
/**
 * Key in `meta` of the next chunk id to hand out, written in every transaction that hands ids out.
 * Without it, ids restart at max(id) + 1 on open, and the ids of deleted chunks come back for other
 * chunks. Files written before it existed lack the row and start from max(id) + 1 once.
 */
const NEXT_CHUNK_ID = 'next_chunk_id';
/**
 * Begins a transaction and reads a table of the index, because DuckDB takes a transaction's
 * snapshot of a database at its first access there, not at BEGIN.
 */
const BEGIN_SNAPSHOT = 'BEGIN TRANSACTION; SELECT 1 FROM meta LIMIT 0';

/**
 * The vector cache as one snapshot sees it. Only valid until the snapshot task's first `await`:
 * after that, commits may change the cache under it, so `search` throws.
 */
export interface VectorCacheView {
  search(query: Float32Array, limit: number, pathPrefix: string | null): CachedHit[];
}

/**
 * One embecode index file. The owner writes through `write`, reads go through `read`; each has its
 * own connection and its own queue, so a search never waits for a write transaction and never sees
 * half of one (DuckDB's MVCC gives the read connection the last committed state). A read of several
 * statements that must agree goes through `snapshot`: one read transaction, plus the vector cache
 * as of that transaction's state.
 *
 * `close()` closes the connections and then the instance, or DETACHes the file from the process's
 * shared instance (shared-instance.ts): only then does DuckDB drop its OS lock.
 */
/** How often a cancelled snapshot interrupts its connection again, until its task gives up. */
const INTERRUPT_REPEAT_MS = 20;

export class Database {
  readonly path: string;
  readonly mode: AccessMode;
  readonly dimensions: number;
  readonly embedder: string;
  /** Closes what `openInstance` opened (the connections first); undefined once closed. */
  private release: (() => Promise<void>) | undefined;
  /** CHECKPOINT with the ATTACHed alias: a bare CHECKPOINT targets the instance's default database. */
  private checkpointSql = 'CHECKPOINT';
  private writeConn: DuckDBConnection | undefined;
  private readConn: DuckDBConnection | undefined;
  private readonly writeQueue = new SerialQueue();
  private readonly readQueue = new SerialQueue();
  /**
   * Excludes a COMMIT together with its vector cache update from the start of a snapshot (its
   * BEGIN, first read and use of the cache): each snapshot then finds DuckDB and the cache at the
   * same commit. Held for milliseconds; never while waiting for either queue.
   */
  private readonly commitGate = new SerialQueue();
  private nextChunkId = 1n;
  /** Whether `meta` holds a NEXT_CHUNK_ID row (UPDATE) or not yet (INSERT). */
  private nextChunkIdStored = false;
  private cacheVectors = false;
  /** The cache being loaded or loaded; `loaded` once the load is done (set inside the write queue). */
  private cache: Promise<VectorCache> | undefined;
  private loaded: VectorCache | undefined;
  private cacheGeneration = 0;
  /**
   * At least the rows of the largest table (postings): DuckDB's estimate at open plus every posting
   * appended since (deletes are not subtracted). Past one row group, the instance gets every core.
   */
  private largestTable = 0;
  private useAllThreads: () => Promise<void> = async () => undefined;

  private constructor(path: string, mode: AccessMode, dimensions: number, embedder: string) {
    this.path = path;
    this.mode = mode;
    this.dimensions = dimensions;
    this.embedder = embedder;
  }

  /**
   * Opens (and, as owner, creates) the index at `path`. Fails with an EmbecodeError of kind
   * `locked` when another process holds the file, `usage` when it is some other file (not DuckDB's,
   * or another program's DuckDB file), `corrupt` when it is damaged, `missing` when a reader finds no
   * file.
   */
  static async open(path: string, options: OpenOptions): Promise<Database> {
    const db = await Database.openUnverified(path, options);
    if (options.verify === true) {
      try {
        await db.verify();
      } catch (error) {
        await db.close();
        throw error;
      }
    }
    return db;
  }

  private static async openUnverified(path: string, options: OpenOptions): Promise<Database> {
    const opened = await openInstance(path, options);
    const { connections } = opened;
    try {
      // The owner reads and writes on connections of their own; a reader needs only the first.
      const [first, second] = connections as [DuckDBConnection, DuckDBConnection | undefined];
      const meta = await readMeta(first, path, options.mode === 'owner');
      if (spansRowGroups(meta.largestTable, ROW_GROUP_SIZE)) await opened.useAllThreads();
      if (options.mode === 'owner') {
        const dimensions = meta.dimensions ?? options.dimensions ?? DEFAULT_DIMENSIONS;
        if (options.dimensions !== undefined && options.dimensions !== dimensions) {
          throw new EmbecodeError(
            'usage',
            `index ${path} holds ${dimensions}-dimensional embeddings, not ${options.dimensions}; use another --db or delete it to re-index`,
          );
        }
        const embedder = meta.embedder ?? options.embedder ?? 'unknown';
        await first.run(`SET disabled_compression_methods = '${DISABLED_COMPRESSION}'`);
        if (meta.version === undefined) await createSchema(first, dimensions, embedder);
        await first.run(
          'CREATE TEMP TABLE IF NOT EXISTS staged_postings (chunk_id BIGINT, terms VARCHAR, tfs VARCHAR)',
        );
        const db = new Database(path, 'owner', dimensions, embedder);
        db.attach(opened, first, second as DuckDBConnection);
        db.largestTable = meta.largestTable;
        db.keepPrivate();
        // createSchema rewrites meta, so a file it just completed is read again.
        const next =
          meta.version !== undefined && meta.nextChunkId !== undefined
            ? meta.nextChunkId
            : await nextChunkId(first);
        db.nextChunkId = next.id;
        db.nextChunkIdStored = next.stored;
        db.cacheVectors = options.cacheVectors ?? true;
        return db;
      }
      if (meta.version === undefined || meta.dimensions === undefined) {
        throw new EmbecodeError(
          'corrupt',
          `${path} is a DuckDB file but not an embecode index; index a project into it first`,
        );
      }
      const db = new Database(path, 'reader', meta.dimensions, meta.embedder ?? 'unknown');
      db.attach(opened, undefined, first);
      db.cacheVectors = options.cacheVectors ?? false;
      return db;
    } catch (error) {
      await opened.close().catch(() => undefined);
      throw error instanceof EmbecodeError ? error : translateOpenError(error, path);
    }
  }

  get isOpen(): boolean {
    return this.release !== undefined;
  }

  /** Runs `task` on the read connection, after every earlier read has finished. */
  read<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.readQueue.run(() => task(this.connection('read'))).catch(this.rethrowDamage);
  }

  /**
   * Reads every row of every column of every table, which makes DuckDB load (and check the
   * checksum of) every block holding data. Fails with kind `corrupt`, naming the file and
   * `embecode index --rebuild`, when a block is damaged. Costs one full scan of the file.
   */
  verify(): Promise<void> {
    return this.read(async (conn) => {
      for (const table of REQUIRED_TABLES) {
        await conn.run(`SELECT count(*), bit_xor(hash(COLUMNS(*))) FROM ${table}`);
      }
    });
  }

  /** DuckDB's checksum failures, whichever statement meets them, become one `corrupt` error. */
  private readonly rethrowDamage = (error: unknown): never => {
    throw error instanceof EmbecodeError ? error : translateDataError(error, this.path);
  };

  /**
   * Runs `task` in one read transaction on the read connection: every statement it runs sees the
   * same committed state, whatever commits meanwhile. `cache` is the vector cache at that same state
   * (undefined when none is loaded; await `vectorCache()` first to have one), usable only in the
   * task's synchronous start, before its first `await`: commits wait for that start to end.
   * The task must not wait for a write or a cache load: a load queued on the write queue waits for
   * the read queue this task holds.
   *
   * `signal` cancels: aborted before its turn, the task never runs; aborted while it runs, the read
   * connection is interrupted (DuckDB stops the statement; the transaction is rolled back), so a
   * search nobody waits for any more stops using CPU. Either way it rejects with the signal's reason.
   */
  snapshot<T>(
    task: (conn: DuckDBConnection, cache: VectorCacheView | undefined) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    return this.readQueue
      .run(async () => {
        signal?.throwIfAborted();
        const conn = this.connection('read');
        // Only this task uses the read connection now (the queue), so the interrupt stops nothing else.
        // An interrupt that lands between two statements is lost (DuckDB forgets it), so it repeats
        // until the task gives up.
        let repeat: NodeJS.Timeout | undefined;
        const interrupt = () => {
          conn.interrupt();
          repeat = setInterval(() => conn.interrupt(), INTERRUPT_REPEAT_MS);
        };
        // Interrupting ends with the task: its ROLLBACK or COMMIT must not be interrupted.
        const quiet = () => {
          signal?.removeEventListener('abort', interrupt);
          clearInterval(repeat);
        };
        signal?.addEventListener('abort', interrupt, { once: true });
        try {
          return await this.snapshotOn(conn, task, quiet);
        } catch (error) {
          if (signal?.aborted !== true) throw error;
          quiet();
          // Should an interrupt still have met the ROLLBACK, leave no transaction open for the next task.
          await conn.run('ROLLBACK').catch(() => undefined);
          throw signal.reason;
        } finally {
          quiet();
        }
      })
      .catch(this.rethrowDamage);
  }

  private async snapshotOn<T>(
    conn: DuckDBConnection,
    task: (conn: DuckDBConnection, cache: VectorCacheView | undefined) => Promise<T>,
    taskSettled: () => void,
  ): Promise<T> {
    const started = this.commitGate.run(async () => {
      await conn.run(BEGIN_SNAPSHOT);
      const cache = this.loaded;
      let current = true;
      const view =
        cache === undefined
          ? undefined
          : {
              search: (query: Float32Array, limit: number, prefix: string | null) => {
                if (!current) {
                  throw new EmbecodeError(
                    'internal',
                    'vector cache read after its snapshot began; use it before the first await',
                  );
                }
                return cache.search(query, limit, prefix);
              },
            };
      try {
        return { pending: task(conn, view) };
      } finally {
        current = false;
      }
    });
    let result: T;
    try {
      const { pending } = await started;
      result = await pending;
    } catch (error) {
      taskSettled();
      await conn.run('ROLLBACK').catch(() => undefined);
      throw error;
    }
    taskSettled();
    await conn.run('COMMIT');
    return result;
  }

  /**
   * Replaces the rows of each file (deleting what was there) in one transaction: a search sees all
   * of these files' new chunks or none of them.
   */
  upsertFiles(files: readonly PreparedFile[]): Promise<void> {
    return this.transaction(async (conn) => {
      const removed = await deleteRows(
        conn,
        files.map((f) => f.path),
        this.loaded !== undefined,
      );
      const added = await this.appendFiles(conn, files);
      if (added.length > 0) await this.storeNextChunkId(conn);
      return (cache) => {
        for (const id of removed) cache.remove(id);
        for (const chunk of added) cache.add(chunk);
      };
    });
  }

  /** Removes every row of these files in one transaction. Unknown paths are ignored. */
  deleteFiles(paths: readonly string[]): Promise<void> {
    return this.transaction(async (conn) => {
      const removed = await deleteRows(conn, paths, this.loaded !== undefined);
      return (cache) => {
        for (const id of removed) cache.remove(id);
      };
    });
  }

  /** Writes committed data from the WAL into the main file. Does not release the lock. */
  checkpoint(): Promise<void> {
    return this.writeQueue
      .run(async () => {
        await this.connection('write').run(this.checkpointSql);
      })
      .catch(this.rethrowDamage);
  }

  /** Path to content hash of every indexed file, for catch-up indexing. */
  fileHashes(): Promise<Map<string, string>> {
    return this.read(async (conn) => {
      const reader = await conn.runAndReadAll('SELECT path, hash FROM files');
      const hashes = new Map<string, string>();
      for (const [path, hash] of reader.getRows()) hashes.set(String(path), String(hash));
      return hashes;
    });
  }

  stats(): Promise<IndexStats> {
    return this.read(async (conn) => {
      const reader = await conn.runAndReadAll(
        `SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM chunks), (SELECT count(*) FROM postings)`,
      );
      const row = reader.getRows()[0] ?? [0, 0, 0];
      return {
        files: Number(row[0]),
        chunks: Number(row[1]),
        postings: Number(row[2]),
        dimensions: this.dimensions,
        embedder: this.embedder,
      };
    });
  }

  /**
   * The in-memory copy of the embeddings, loaded on first call, or undefined when this Database was
   * opened without `cacheVectors`. The load waits for the write in flight and holds back new ones
   * until it is done, so the copy starts from the committed state and then follows every write.
   */
  vectorCache(): Promise<VectorCache> | undefined {
    if (!this.cacheVectors || this.release === undefined) return undefined;
    if (this.cache === undefined) {
      const generation = ++this.cacheGeneration;
      const load = async () => {
        const cache = await this.read((conn) => VectorCache.load(conn, this.dimensions));
        // Still inside the write queue: every later write finds it and keeps it up to date.
        if (generation === this.cacheGeneration) this.loaded = cache;
        return cache;
      };
      const loading = this.writeConn === undefined ? load() : this.writeQueue.run(load);
      this.cache = loading;
      // A failed load is forgotten, so that the next search tries again; an index too large to
      // cache is searched in SQL from then on.
      loading.catch((error: unknown) => {
        if (generation === this.cacheGeneration) this.dropCache();
        if (error instanceof VectorCacheTooLarge) this.cacheVectors = false;
      });
    }
    return this.cache;
  }

  /**
   * Closes every connection, then the instance (or DETACHes the file from the process's shared
   * instance, see shared-instance.ts), so the OS lock is gone when this resolves. The index counts
   * as closed at once (isOpen is false, every later operation fails as closed). Safe to call twice.
   * Pending queued work is not awaited: call it when no operation is running.
   */
  async close(): Promise<void> {
    const release = this.release;
    this.release = undefined;
    this.writeConn = undefined;
    this.readConn = undefined;
    this.dropCache();
    await release?.();
  }

  /**
   * The index holds the project's source text: the owner makes the file and its WAL readable by
   * this user only. DuckDB creates both with the umask's mode (usually 0644), the WAL anew at the
   * first write after each checkpoint, so this runs after open and after every commit. chmod goes by
   * path and opens no descriptor, so it cannot drop this process's lock (tests/index/permissions).
   */
  private keepPrivate(): void {
    for (const file of [this.path, `${this.path}.wal`]) {
      try {
        chmodSync(file, PRIVATE_FILE_MODE);
      } catch {
        // No WAL right now, or a --db file owned by someone else: nothing this process can change.
      }
    }
  }

  private dropCache(): void {
    this.cacheGeneration++;
    this.cache = undefined;
    this.loaded = undefined;
  }

  private attach(
    opened: OpenedInstance,
    write: DuckDBConnection | undefined,
    read: DuckDBConnection | undefined,
  ) {
    this.release = opened.close;
    this.checkpointSql = opened.checkpointSql;
    this.useAllThreads = opened.useAllThreads;
    this.writeConn = write;
    this.readConn = read;
  }

  private connection(which: 'read' | 'write'): DuckDBConnection {
    const conn = which === 'read' ? this.readConn : this.writeConn;
    if (conn !== undefined) return conn;
    if (this.release === undefined) {
      throw new EmbecodeError(
        'usage',
        `index ${this.path} is closed in process ${process.pid}; open it again first`,
      );
    }
    throw new EmbecodeError(
      'usage',
      `index ${this.path} is open read-only in process ${process.pid}; only the owner writes`,
    );
  }

  /**
   * Runs `body` in one transaction on the write connection. The function `body` returns is applied
   * to the vector cache after COMMIT, before the write resolves: a search that starts after a write
   * is acknowledged sees it, in the cache as in DuckDB. COMMIT and that update hold the commit gate
   * together, so no snapshot begins between them (DuckDB would show the write, the cache not yet).
   */
  private transaction(
    body: (conn: DuckDBConnection) => Promise<(cache: VectorCache) => void>,
  ): Promise<void> {
    return this.writeQueue
      .run(async () => {
        const conn = this.connection('write');
        const firstId = this.nextChunkId;
        const stored = this.nextChunkIdStored;
        await conn.run('BEGIN TRANSACTION');
        try {
          const applyToCache = await body(conn);
          await this.commitGate.run(async () => {
            await conn.run('COMMIT');
            this.keepPrivate();
            // Only a cache loaded before this write needs it; a load queued behind it reads it from
            // DuckDB.
            const cache = this.loaded;
            if (cache === undefined) return;
            try {
              applyToCache(cache);
            } catch {
              this.dropCache(); // reloaded from DuckDB by the next vector search
            }
          });
          if (spansRowGroups(this.largestTable, ROW_GROUP_SIZE)) {
            // The write has committed: a failure here only leaves searches on one thread, and the
            // next write tries again.
            await this.useAllThreads().catch(() => undefined);
          }
        } catch (error) {
          this.nextChunkId = firstId;
          this.nextChunkIdStored = stored;
          await conn.run('ROLLBACK').catch(() => undefined);
          throw error;
        }
      })
      .catch(this.rethrowDamage);
  }

  /** Records the next chunk id in `meta`, in the write's transaction, when the write took ids. */
  private async storeNextChunkId(conn: DuckDBConnection): Promise<void> {
    const value = String(this.nextChunkId);
    if (this.nextChunkIdStored) {
      await conn.run('UPDATE meta SET value = $1 WHERE key = $2', [value, NEXT_CHUNK_ID], [VARCHAR, VARCHAR]);
    } else {
      await conn.run('INSERT INTO meta VALUES ($1, $2)', [NEXT_CHUNK_ID, value], [VARCHAR, VARCHAR]);
      this.nextChunkIdStored = true;
    }
  }

  /**
   * Appends the files' rows. Postings go through a staging table, one row per chunk with its terms
   * joined into one string: 60-odd times fewer values cross from JS into DuckDB, and DuckDB splits
   * them and writes them sorted by term (see ROW_GROUP_SIZE) in its own threads.
   */
  private async appendFiles(conn: DuckDBConnection, files: readonly PreparedFile[]): Promise<CachedChunk[]> {
    const fileRows: DuckDBValue[][] = [];
    const chunkRows: DuckDBValue[][] = [];
    const stagedRows: DuckDBValue[][] = [];
    const added: CachedChunk[] = [];
    const now = timestampValue(BigInt(Date.now()) * 1000n);
    for (const file of files) {
      fileRows.push([file.path, file.hash, BigInt(file.size), file.chunks.length, now]);
      for (const chunk of file.chunks) {
        if (chunk.embedding.length !== this.dimensions) {
          throw new EmbecodeError(
            'usage',
            `embedding for ${chunk.path} has ${chunk.embedding.length} dimensions but index ${this.path} stores ${this.dimensions}`,
          );
        }
        const id = this.nextChunkId++;
        chunkRows.push([id, chunk.path, chunk.startLine, chunk.endLine, chunk.length, chunk.content]);
        added.push({
          id,
          path: chunk.path,
          startLine: chunk.startLine,
          endLine: chunk.endLine,
          embedding: chunk.embedding,
        });
        if (chunk.terms.size > 0) {
          const terms: string[] = [];
          const tfs: number[] = [];
          for (const [term, tf] of chunk.terms) {
            if (term.includes(TERM_SEPARATOR) || term === '') {
              throw new EmbecodeError(
                'internal',
                `term ${JSON.stringify(term)} of ${chunk.path} cannot be stored`,
              );
            }
            terms.push(term);
            tfs.push(tf);
          }
          stagedRows.push([id, terms.join(TERM_SEPARATOR), tfs.join(TERM_SEPARATOR)]);
          this.largestTable += terms.length;
        }
      }
    }
    await appendRows(conn, 'files', [VARCHAR, VARCHAR, BIGINT, INTEGER, TIMESTAMP], fileRows);
    await appendRows(conn, 'chunks', [BIGINT, VARCHAR, INTEGER, INTEGER, INTEGER, VARCHAR], chunkRows);
    await appendVectors(conn, this.dimensions, added);
    if (stagedRows.length > 0) {
      await appendRows(conn, 'staged_postings', [BIGINT, VARCHAR, VARCHAR], stagedRows);
      await conn.run(
        `INSERT INTO postings
         SELECT term, chunk_id, tf::INTEGER FROM (
           SELECT chunk_id,
             unnest(string_split(terms, '${TERM_SEPARATOR}')) AS term,
             unnest(string_split(tfs, '${TERM_SEPARATOR}')) AS tf
           FROM staged_postings)
         ORDER BY term`,
      );
      await conn.run('DELETE FROM staged_postings');
    }
    return added;
  }
}

async function appendRows(
  conn: DuckDBConnection,
  table: string,
  types: DuckDBType[],
  rows: readonly DuckDBValue[][],
): Promise<void> {
  if (rows.length === 0) return;
  const appender = await conn.createAppender(table);
  try {
    for (let offset = 0; offset < rows.length; offset += APPEND_BATCH) {
      const slice = rows.slice(offset, offset + APPEND_BATCH);
      const chunk = DuckDBDataChunk.create(types, slice.length);
      chunk.setRows(slice);
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/**
 * Appends (chunk_id, vec) rows. The floats are copied straight into the data chunk's FLOAT child
 * vector when the binding's internals allow it (10x cheaper than one boxed number per float),
 * otherwise value by value.
 */
async function appendVectors(conn: DuckDBConnection, dimensions: number, rows: readonly CachedChunk[]) {
  if (rows.length === 0) return;
  const types = [BIGINT, ARRAY(FLOAT, dimensions)];
  const appender = await conn.createAppender('embeddings');
  try {
    for (let offset = 0; offset < rows.length; offset += APPEND_BATCH) {
      const slice = rows.slice(offset, offset + APPEND_BATCH);
      const chunk = DuckDBDataChunk.create(types, slice.length);
      const ids = chunk.getColumnVector(0);
      const vectors = chunk.getColumnVector(1) as DuckDBArrayVector;
      const flat = floatChildItems(vectors, slice.length * dimensions);
      slice.forEach((row, i) => {
        ids.setItem(i, row.id);
        if (flat !== undefined) flat.set(row.embedding, i * dimensions);
        else vectors.setItem(i, arrayValue(Array.from(row.embedding)));
      });
      ids.flush();
      vectors.flush();
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/**
 * Deletes every row of these files. Returns the ids of the chunks deleted when `wantIds` (for the
 * vector cache), else an empty list.
 */
async function deleteRows(
  conn: DuckDBConnection,
  paths: readonly string[],
  wantIds: boolean,
): Promise<bigint[]> {
  if (paths.length === 0) return [];
  const values = [listValue([...paths])];
  const types = [LIST(VARCHAR)];
  const existing = await conn.runAndReadAll(
    'SELECT count(*) FROM files WHERE list_contains($1, path)',
    values,
    types,
  );
  if (Number(existing.getRows()[0]?.[0] ?? 0) === 0) return [];
  const ids = 'SELECT id FROM chunks WHERE list_contains($1, path)';
  const removed = wantIds
    ? (await conn.runAndReadAll(ids, values, types)).getRows().map((row) => row[0] as bigint)
    : [];
  for (const sql of [
    `DELETE FROM postings WHERE chunk_id IN (${ids})`,
    `DELETE FROM embeddings WHERE chunk_id IN (${ids})`,
    'DELETE FROM chunks WHERE list_contains($1, path)',
    'DELETE FROM files WHERE list_contains($1, path)',
  ]) {
    await conn.run(sql, values, types);
  }
  return removed;
}

/** The owner reads and writes on a connection each; a reader reads on one (a second, unused, would only cost). */
function connectionsFor(mode: AccessMode): number {
  return mode === 'owner' ? 2 : 1;
}

/** What openInstance opened: two connections on the index, and how to close them and let go of the file. */
interface OpenedInstance {
  readonly connections: DuckDBConnection[];
  readonly close: () => Promise<void>;
  readonly checkpointSql: string;
  /** Gives the instance every core (threads.ts). */
  readonly useAllThreads: () => Promise<void>;
}

async function openInstance(path: string, options: OpenOptions): Promise<OpenedInstance> {
  if (options.mode === 'reader' && !existsSync(path)) {
    throw new EmbecodeError('missing', `no index at ${path}; run \`embecode index\` first (or pass --db)`);
  }
  const via = options.openVia ?? (options.mode === 'owner' ? 'attach' : 'options');
  if (via === 'attach') {
    try {
      const attachment = await attach(
        path,
        options.mode === 'reader' ? 'READ_ONLY' : `ROW_GROUP_SIZE ${ROW_GROUP_SIZE}`,
        connectionsFor(options.mode),
      );
      return {
        connections: attachment.connections,
        close: attachment.detach,
        checkpointSql: `CHECKPOINT ${attachment.alias}`,
        useAllThreads: attachment.useAllThreads,
      };
    } catch (error) {
      throw translateOpenError(error, path);
    }
  }
  let instance: DuckDBInstance;
  try {
    instance = await DuckDBInstance.create(path, {
      ...(options.mode === 'reader' ? { access_mode: 'READ_ONLY' } : {}),
      threads: String(SMALL_INDEX_THREADS),
    });
  } catch (error) {
    throw translateOpenError(error, path);
  }
  const connections: DuckDBConnection[] = [];
  // Connections first: an instance closed with a connection still open keeps the lock.
  const close = async (): Promise<void> => {
    for (const conn of connections) conn.closeSync();
    instance.closeSync();
  };
  try {
    for (let i = 0; i < connectionsFor(options.mode); i++)
      connections.push(await DuckDBConnection.create(instance));
  } catch (error) {
    await close();
    throw translateOpenError(error, path);
  }
  const useAllThreads = once(() => (connections[0] as DuckDBConnection).run(allThreadsSql()));
  return { connections, close, checkpointSql: 'CHECKPOINT', useAllThreads };
}

interface Meta {
  version?: string;
  dimensions?: number;
  embedder?: string;
  /** Rows of its largest table, as DuckDB estimates them (0 for a new file). */
  largestTable: number;
  /** For the owner of an existing index: see nextChunkId. */
  nextChunkId?: { id: bigint; stored: boolean };
}

/**
 * What an open needs to know of an existing index, in one statement: its tables with their row
 * estimates, the meta rows and, for the owner, the largest chunk id (nextChunkId's three reads).
 * Four statements cost ~4 ms of an open's ~7, and a handoff owner or reader opens at every turn.
 * A file without these tables fails to bind it: readMeta then takes the careful path, which says
 * what the file lacks.
 */
function indexStateSql(withMaxId: boolean): string {
  return `SELECT 'table', table_name, estimated_size::VARCHAR FROM duckdb_tables()
      WHERE database_name = current_database() AND schema_name = current_schema()
    UNION ALL SELECT 'meta', key, value FROM meta
    ${withMaxId ? "UNION ALL SELECT 'max_id', NULL, (SELECT coalesce(max(id), 0) FROM chunks)::VARCHAR" : ''}`;
}

async function readMeta(conn: DuckDBConnection, path: string, owner: boolean): Promise<Meta> {
  let rows: unknown[][];
  try {
    rows = (await conn.runAndReadAll(indexStateSql(owner))).getRows();
  } catch {
    return readMetaCarefully(conn, path);
  }
  const tables = new Map<string, number>();
  const meta = new Map<string, string>();
  let maxId: bigint | undefined;
  for (const [kind, key, value] of rows) {
    if (kind === 'table') tables.set(String(key), Number(value ?? 0));
    else if (kind === 'meta') meta.set(String(key), String(value));
    else maxId = BigInt(String(value));
  }
  const missing = REQUIRED_TABLES.filter((t) => !tables.has(t));
  if (missing.length > 0) return readMetaCarefully(conn, path);
  const mark = rows.filter(([kind, key]) => kind === 'meta' && key === NEXT_CHUNK_ID);
  return {
    ...metaOf(meta, path, Math.max(0, ...tables.values())),
    ...(maxId === undefined
      ? {}
      : {
          nextChunkId: chunkIdFrom(
            maxId + 1n,
            mark.map(([, , v]) => v),
          ),
        }),
  };
}

/** readMeta one step at a time, for a file that may be new, another program's, or incomplete. */
async function readMetaCarefully(conn: DuckDBConnection, path: string): Promise<Meta> {
  const tables = await conn.runAndReadAll(
    // duckdb_tables() rather than information_schema.tables: the same rows at half the cost (0.7 ms).
    'SELECT table_name, estimated_size FROM duckdb_tables() WHERE database_name = current_database() AND schema_name = current_schema()',
  );
  const names = new Set(tables.getRows().map((row) => String(row[0])));
  const largestTable = Math.max(0, ...tables.getRows().map((row) => Number(row[1] ?? 0)));
  if (names.size === 0) return { largestTable };
  const missing = REQUIRED_TABLES.filter((t) => !names.has(t));
  if (missing.length > 0) {
    throw notAnIndex(
      path,
      `a DuckDB file without the ${missing.join(', ')} table${missing.length > 1 ? 's' : ''}`,
    );
  }
  const rows = (await conn.runAndReadAll('SELECT key, value FROM meta')).getRows();
  return metaOf(new Map(rows.map(([k, v]) => [String(k), String(v)])), path, largestTable);
}

function metaOf(meta: ReadonlyMap<string, string>, path: string, largestTable: number): Meta {
  const version = meta.get('schema_version');
  if (version !== undefined && version !== SCHEMA_VERSION) {
    throw new EmbecodeError(
      'corrupt',
      `${path} has index schema ${version}, this embecode writes ${SCHEMA_VERSION}; delete it and index again`,
    );
  }
  const dims = meta.get('dimensions');
  return {
    largestTable,
    ...(version === undefined ? {} : { version }),
    ...(dims === undefined ? {} : { dimensions: Number(dims) }),
    ...(meta.get('embedder') === undefined ? {} : { embedder: meta.get('embedder') as string }),
  };
}

async function createSchema(conn: DuckDBConnection, dimensions: number, embedder: string): Promise<void> {
  await conn.run('BEGIN TRANSACTION');
  try {
    for (const sql of schemaStatements(dimensions)) await conn.run(sql);
    await conn.run('DELETE FROM meta');
    await conn.run('INSERT INTO meta VALUES ($1, $2), ($3, $4), ($5, $6)', [
      'schema_version',
      SCHEMA_VERSION,
      'dimensions',
      String(dimensions),
      'embedder',
      embedder,
    ]);
    await conn.run('COMMIT');
  } catch (error) {
    await conn.run('ROLLBACK').catch(() => undefined);
    throw error;
  }
}

/**
 * The first id never handed out: past both the recorded mark and every id present, so that an
 * index written before the mark existed, or a mark somehow behind, still never repeats an id.
 */
async function nextChunkId(conn: DuckDBConnection): Promise<{ id: bigint; stored: boolean }> {
  const reader = await conn.runAndReadAll(
    `SELECT (SELECT coalesce(max(id), 0) + 1 FROM chunks), list(value) FROM meta WHERE key = $1`,
    [NEXT_CHUNK_ID],
    [VARCHAR],
  );
  const [present, marks] = reader.getRows()[0] ?? [1n, null];
  const values = marks === null || marks === undefined ? [] : (marks as { items: unknown[] }).items;
  return chunkIdFrom(BigInt(present as bigint | number), values);
}

/** The larger of one past the largest id present and the largest mark recorded (a mark that is no number counts for nothing). */
function chunkIdFrom(fromRows: bigint, marks: readonly unknown[]): { id: bigint; stored: boolean } {
  let id = fromRows;
  for (const mark of marks) {
    const text = String(mark).trim();
    if (/^-?\d+$/.test(text) && BigInt(text) > id) id = BigInt(text);
  }
  return { id, stored: marks.length > 0 };
}

/** Turns a DuckDB open failure into an error that names the file, the holder and the next step. */
export function translateOpenError(error: unknown, path: string): EmbecodeError {
  const classified = classifyDuckDBError(error);
  switch (classified.kind) {
    case 'locked': {
      const holder =
        classified.holderPid === undefined
          ? 'another process'
          : classified.holderPid === process.pid
            ? `this same process (${process.pid}), which has it open already`
            : `process ${classified.holderPid}`;
      return new EmbecodeError(
        'locked',
        `index ${path} is locked by ${holder}; stop it, or search through it with \`embecode serve\` (DuckDB: ${classified.message})`,
        { cause: error },
      );
    }
    case 'corrupt':
      return classified.damage === 'not-a-database'
        ? notAnIndex(path, 'not a DuckDB database file')
        : damagedIndex(path, classified.message);
    case 'missing':
      return new EmbecodeError(
        'missing',
        `no index at ${path}; run \`embecode index\` first (or pass --db)`,
        {
          cause: error,
        },
      );
    default:
      return new EmbecodeError('io', `cannot open index ${path}: ${messageOf(error)}`, { cause: error });
  }
}

/** A failure met while reading or writing an open index: a `corrupt` one when a block is damaged. */
export function translateDataError(error: unknown, path: string): unknown {
  const classified = classifyDuckDBError(error);
  return classified.kind === 'corrupt' ? damagedIndex(path, classified.message) : error;
}

/**
 * The one line for a damaged index. DuckDB's own words are part of the message rather than its
 * cause, so that an owner passing it to a client across a socket does not print them twice.
 */
export function damagedIndex(path: string, duckdb: string): EmbecodeError {
  const detail = duckdb.split('\n')[0]?.trim() ?? '';
  return new EmbecodeError(
    'corrupt',
    `index ${path} is damaged (DuckDB: ${detail}); run \`embecode index --rebuild\` with the same project or --db to move it aside and index again`,
  );
}

/**
 * Some other file at the index path: embecode must not write to it, and `--rebuild` does not move
 * it, since it may be the user's own file given to --db by mistake.
 */
export function notAnIndex(path: string, what: string): EmbecodeError {
  return new EmbecodeError(
    'usage',
    `${path} is not an embecode index (${what}); embecode leaves it untouched: give --db a new path or an existing index`,
  );
}
