import { existsSync } from 'node:fs';
import {
  ARRAY,
  arrayValue,
  BIGINT,
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
} from '@duckdb/node-api';
import { EmbecodeError } from '../errors.js';
import { classifyDuckDBError, messageOf } from './duckdb-errors.js';
import { REQUIRED_TABLES, SCHEMA_VERSION, schemaStatements } from './schema.js';
import { SerialQueue } from './serial-queue.js';
import type { IndexStats, PreparedFile } from './types.js';

/** `owner` opens read-write (and creates the schema); `reader` opens READ_ONLY. */
export type AccessMode = 'owner' | 'reader';

export interface OpenOptions {
  readonly mode: AccessMode;
  /** Embedding size for a new index. An existing index keeps its own and refuses a different one. */
  readonly dimensions?: number;
  /** Name of the embedder, recorded on creation so a reader can build the same one. */
  readonly embedder?: string;
  /** How the file is opened; `attach` exists only to show it behaves like `options` (hypothesis A). */
  readonly openVia?: 'options' | 'attach';
}

const APPEND_BATCH = 2048;
const DEFAULT_DIMENSIONS = 384;

/**
 * One embecode index file. The owner writes through `write`, reads go through `read`; each has its
 * own connection and its own queue, so a search never waits for a write transaction and never sees
 * half of one (DuckDB's MVCC gives the read connection the last committed state).
 *
 * `close()` closes both connections and then the instance: only then does DuckDB drop its OS lock
 * (closing the instance with a connection still open keeps the lock).
 */
export class Database {
  readonly path: string;
  readonly mode: AccessMode;
  readonly dimensions: number;
  readonly embedder: string;
  private instance: DuckDBInstance | undefined;
  private writeConn: DuckDBConnection | undefined;
  private readConn: DuckDBConnection | undefined;
  private readonly writeQueue = new SerialQueue();
  private readonly readQueue = new SerialQueue();
  private nextChunkId = 1n;

  private constructor(path: string, mode: AccessMode, dimensions: number, embedder: string) {
    this.path = path;
    this.mode = mode;
    this.dimensions = dimensions;
    this.embedder = embedder;
  }

  /**
   * Opens (and, as owner, creates) the index at `path`. Fails with an EmbecodeError of kind
   * `locked` when another process holds the file, `corrupt` when it is not an embecode index,
   * `missing` when a reader finds no file.
   */
  static async open(path: string, options: OpenOptions): Promise<Database> {
    const { instance, connections } = await openInstance(path, options);
    try {
      const [first, second] = connections as [DuckDBConnection, DuckDBConnection];
      const meta = await readMeta(first, path);
      if (options.mode === 'owner') {
        const dimensions = meta.dimensions ?? options.dimensions ?? DEFAULT_DIMENSIONS;
        if (options.dimensions !== undefined && options.dimensions !== dimensions) {
          throw new EmbecodeError(
            'usage',
            `index ${path} holds ${dimensions}-dimensional embeddings, not ${options.dimensions}; use another --db or delete it to re-index`,
          );
        }
        const embedder = meta.embedder ?? options.embedder ?? 'unknown';
        if (meta.version === undefined) await createSchema(first, dimensions, embedder);
        const db = new Database(path, 'owner', dimensions, embedder);
        db.attach(instance, first, second);
        db.nextChunkId = await maxChunkId(first);
        return db;
      }
      if (meta.version === undefined || meta.dimensions === undefined) {
        throw new EmbecodeError(
          'corrupt',
          `${path} is a DuckDB file but not an embecode index; index a project into it first`,
        );
      }
      const db = new Database(path, 'reader', meta.dimensions, meta.embedder ?? 'unknown');
      db.attach(instance, undefined, first);
      return db;
    } catch (error) {
      for (const conn of connections) conn.closeSync();
      instance.closeSync();
      throw error instanceof EmbecodeError ? error : translateOpenError(error, path);
    }
  }

  get isOpen(): boolean {
    return this.instance !== undefined;
  }

  /** Runs `task` on the read connection, after every earlier read has finished. */
  read<T>(task: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.readQueue.run(() => task(this.connection('read')));
  }

  /**
   * Replaces the rows of each file (deleting what was there) in one transaction: a search sees all
   * of these files' new chunks or none of them.
   */
  upsertFiles(files: readonly PreparedFile[]): Promise<void> {
    return this.transaction(async (conn) => {
      await deleteRows(
        conn,
        files.map((f) => f.path),
      );
      await this.appendFiles(conn, files);
    });
  }

  /** Removes every row of these files in one transaction. Unknown paths are ignored. */
  deleteFiles(paths: readonly string[]): Promise<void> {
    return this.transaction((conn) => deleteRows(conn, paths));
  }

  /** Writes committed data from the WAL into the main file. Does not release the lock. */
  checkpoint(): Promise<void> {
    return this.writeQueue.run(async () => {
      await this.connection('write').run('CHECKPOINT');
    });
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
   * Closes every connection, then the instance, so the OS lock is gone when this returns.
   * Safe to call twice. Pending queued work is not awaited: call it when no operation is running.
   */
  close(): void {
    this.writeConn?.closeSync();
    this.readConn?.closeSync();
    this.instance?.closeSync();
    this.writeConn = undefined;
    this.readConn = undefined;
    this.instance = undefined;
  }

  private attach(
    instance: DuckDBInstance,
    write: DuckDBConnection | undefined,
    read: DuckDBConnection | undefined,
  ) {
    this.instance = instance;
    this.writeConn = write;
    this.readConn = read;
  }

  private connection(which: 'read' | 'write'): DuckDBConnection {
    const conn = which === 'read' ? this.readConn : this.writeConn;
    if (conn !== undefined) return conn;
    if (this.instance === undefined) {
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

  private transaction(body: (conn: DuckDBConnection) => Promise<void>): Promise<void> {
    return this.writeQueue.run(async () => {
      const conn = this.connection('write');
      const firstId = this.nextChunkId;
      await conn.run('BEGIN TRANSACTION');
      try {
        await body(conn);
        await conn.run('COMMIT');
      } catch (error) {
        this.nextChunkId = firstId;
        await conn.run('ROLLBACK').catch(() => undefined);
        throw error;
      }
    });
  }

  private async appendFiles(conn: DuckDBConnection, files: readonly PreparedFile[]): Promise<void> {
    const fileRows: DuckDBValue[][] = [];
    const chunkRows: DuckDBValue[][] = [];
    const vectorRows: DuckDBValue[][] = [];
    const postingRows: DuckDBValue[][] = [];
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
        vectorRows.push([id, arrayValue(Array.from(chunk.embedding))]);
        for (const [term, tf] of chunk.terms) postingRows.push([term, id, tf]);
      }
    }
    await appendRows(conn, 'files', [VARCHAR, VARCHAR, BIGINT, INTEGER, TIMESTAMP], fileRows);
    await appendRows(conn, 'chunks', [BIGINT, VARCHAR, INTEGER, INTEGER, INTEGER, VARCHAR], chunkRows);
    await appendRows(conn, 'embeddings', [BIGINT, ARRAY(FLOAT, this.dimensions)], vectorRows);
    await appendRows(conn, 'postings', [VARCHAR, BIGINT, INTEGER], postingRows);
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

async function deleteRows(conn: DuckDBConnection, paths: readonly string[]): Promise<void> {
  if (paths.length === 0) return;
  const values = [listValue([...paths])];
  const types = [LIST(VARCHAR)];
  const existing = await conn.runAndReadAll(
    'SELECT count(*) FROM files WHERE list_contains($1, path)',
    values,
    types,
  );
  if (Number(existing.getRows()[0]?.[0] ?? 0) === 0) return;
  const ids = 'SELECT id FROM chunks WHERE list_contains($1, path)';
  for (const sql of [
    `DELETE FROM postings WHERE chunk_id IN (${ids})`,
    `DELETE FROM embeddings WHERE chunk_id IN (${ids})`,
    'DELETE FROM chunks WHERE list_contains($1, path)',
    'DELETE FROM files WHERE list_contains($1, path)',
  ]) {
    await conn.run(sql, values, types);
  }
}

async function openInstance(
  path: string,
  options: OpenOptions,
): Promise<{ instance: DuckDBInstance; connections: DuckDBConnection[] }> {
  if (options.mode === 'reader' && !existsSync(path)) {
    throw new EmbecodeError('missing', `no index at ${path}; run \`embecode index\` first (or pass --db)`);
  }
  let instance: DuckDBInstance;
  try {
    if (options.openVia === 'attach') {
      instance = await DuckDBInstance.create(':memory:');
    } else {
      instance = await DuckDBInstance.create(
        path,
        options.mode === 'reader' ? { access_mode: 'READ_ONLY' } : {},
      );
    }
  } catch (error) {
    throw translateOpenError(error, path);
  }
  const connections: DuckDBConnection[] = [];
  try {
    connections.push(await DuckDBConnection.create(instance));
    if (options.openVia === 'attach') {
      const readOnly = options.mode === 'reader' ? ' (READ_ONLY)' : '';
      const first = connections[0] as DuckDBConnection;
      await first.run(`ATTACH '${path.replaceAll("'", "''")}' AS idx${readOnly}`);
      await first.run('USE idx');
    }
    connections.push(await DuckDBConnection.create(instance));
    if (options.openVia === 'attach') await (connections[1] as DuckDBConnection).run('USE idx');
  } catch (error) {
    for (const conn of connections) conn.closeSync();
    instance.closeSync();
    throw translateOpenError(error, path);
  }
  return { instance, connections };
}

interface Meta {
  version?: string;
  dimensions?: number;
  embedder?: string;
}

async function readMeta(conn: DuckDBConnection, path: string): Promise<Meta> {
  const tables = await conn.runAndReadAll(
    'SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_catalog = current_database()',
  );
  const names = new Set(tables.getRows().map((row) => String(row[0])));
  if (names.size === 0) return {};
  const missing = REQUIRED_TABLES.filter((t) => !names.has(t));
  if (missing.length > 0) {
    throw new EmbecodeError(
      'corrupt',
      `${path} is not an embecode index (no ${missing.join(', ')} table); use another --db`,
    );
  }
  const rows = (await conn.runAndReadAll('SELECT key, value FROM meta')).getRows();
  const meta = new Map(rows.map(([k, v]) => [String(k), String(v)]));
  const version = meta.get('schema_version');
  if (version !== undefined && version !== SCHEMA_VERSION) {
    throw new EmbecodeError(
      'corrupt',
      `${path} has index schema ${version}, this embecode writes ${SCHEMA_VERSION}; delete it and index again`,
    );
  }
  const dims = meta.get('dimensions');
  return {
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

async function maxChunkId(conn: DuckDBConnection): Promise<bigint> {
  const reader = await conn.runAndReadAll('SELECT coalesce(max(id), 0) + 1 FROM chunks');
  const value = reader.getRows()[0]?.[0];
  return typeof value === 'bigint' ? value : BigInt(Number(value ?? 1));
}

/** Turns a DuckDB open failure into an error that names the file, the holder and the next step. */
export function translateOpenError(error: unknown, path: string): EmbecodeError {
  const classified = classifyDuckDBError(error);
  switch (classified.kind) {
    case 'lock-conflict': {
      const holder =
        classified.holderPid === undefined ? 'another process' : `process ${classified.holderPid}`;
      return new EmbecodeError(
        'locked',
        `index ${path} is locked by ${holder}; stop it, or search through it with \`embecode serve\` (DuckDB: ${classified.message})`,
        { cause: error },
      );
    }
    case 'corrupt':
      return new EmbecodeError(
        'corrupt',
        `${path} is not a readable DuckDB index (${classified.message}); move it away and index again`,
        { cause: error },
      );
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
