/**
 * A real process that holds an index open, for tests that need a second process on the same file.
 *
 *   node dist/helpers/owner-process.js DB_PATH [--mode owner|reader] [--raw] [--open-via options|attach]
 *                                              [--index-file REL_PATH CONTENT_FILE]... [--checkpoint]
 *                                              [--serve-ipc]
 *
 * Opens DB_PATH (through embecode's Database, or with `--raw` through bare @duckdb/node-api, read-write
 * for `owner` and READ_ONLY for `reader`), indexes the given files in one transaction, checkpoints if
 * asked, prints `ready` on its own line, and holds everything open until its stdin closes; then it closes
 * every connection and the instance and exits 0. Its parent dying closes the pipe, so an orphan exits
 * too. A startup failure prints one line on stderr and exits non-zero (3 when the file is locked, 2 for
 * bad arguments, 1 otherwise); it never waits for stdin in that case.
 *
 * With `--serve-ipc` (owner only) it also answers `search` and `status` from its own connection over
 * the ipc socket `<dir of DB_PATH>/ipc/owner.sock` (see src/ipc/) before printing `ready`, and stops
 * serving before it closes the index.
 */
import { readFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { EmbecodeError } from '../src/errors.js';
import { type AccessMode, Database, translateOpenError } from '../src/index/database.js';
import { DuckDBConnection, DuckDBInstance } from '../src/index/duckdb-api.js';
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { prepareFile } from '../src/index/prepare.js';
import { Searcher } from '../src/index/search.js';
import { IpcServer } from '../src/ipc/server.js';
import { ipcSocketPath } from '../src/ipc/socket-dir.js';

export interface OwnerArgs {
  readonly dbPath: string;
  readonly mode: AccessMode;
  /** Bare DuckDB (no embecode schema): for tests whose point is DuckDB itself. */
  readonly raw: boolean;
  readonly openVia: 'options' | 'attach';
  readonly indexFiles: readonly { readonly path: string; readonly contentFile: string }[];
  readonly checkpoint: boolean;
  /** Serve searches over the ipc socket next to DB_PATH while holding the index. */
  readonly serveIpc?: boolean;
}

export const EXIT_USAGE = 2;
export const EXIT_LOCKED = 3;

const USAGE =
  'usage: owner-process DB_PATH [--mode owner|reader] [--raw] [--open-via options|attach] [--index-file REL_PATH CONTENT_FILE]... [--checkpoint] [--serve-ipc]';

/** Parses argv (without `node` and the script). Throws an EmbecodeError of kind `usage`. */
export function parseOwnerArgs(argv: readonly string[]): OwnerArgs {
  let dbPath: string | undefined;
  let mode: AccessMode = 'owner';
  let raw = false;
  let openVia: OwnerArgs['openVia'] = 'options';
  let checkpoint = false;
  let serveIpc = false;
  const indexFiles: { path: string; contentFile: string }[] = [];
  const value = (i: number, flag: string): string => {
    const v = argv[i];
    if (v === undefined || v.startsWith('--'))
      throw new EmbecodeError('usage', `${flag} needs a value; ${USAGE}`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    switch (arg) {
      case '--mode': {
        const v = value(++i, arg);
        if (v !== 'owner' && v !== 'reader')
          throw new EmbecodeError('usage', `--mode is owner or reader, not ${v}`);
        mode = v;
        break;
      }
      case '--open-via': {
        const v = value(++i, arg);
        if (v !== 'options' && v !== 'attach') {
          throw new EmbecodeError('usage', `--open-via is options or attach, not ${v}`);
        }
        openVia = v;
        break;
      }
      case '--raw':
        raw = true;
        break;
      case '--checkpoint':
        checkpoint = true;
        break;
      case '--serve-ipc':
        serveIpc = true;
        break;
      case '--index-file':
        indexFiles.push({ path: value(i + 1, arg), contentFile: value(i + 2, arg) });
        i += 2;
        break;
      default:
        if (arg.startsWith('--') || dbPath !== undefined) {
          throw new EmbecodeError('usage', `unexpected argument ${arg}; ${USAGE}`);
        }
        dbPath = arg;
    }
  }
  if (dbPath === undefined) throw new EmbecodeError('usage', `missing DB_PATH; ${USAGE}`);
  if (mode === 'reader' && (indexFiles.length > 0 || checkpoint)) {
    throw new EmbecodeError('usage', 'a reader cannot --index-file or --checkpoint');
  }
  if (raw && indexFiles.length > 0) throw new EmbecodeError('usage', '--raw cannot --index-file');
  if (serveIpc && (raw || mode === 'reader')) {
    throw new EmbecodeError('usage', '--serve-ipc needs an embecode index opened as owner');
  }
  return { dbPath, mode, raw, openVia, indexFiles, checkpoint, ...(serveIpc ? { serveIpc } : {}) };
}

/** Something open that `close()` releases completely (every connection, then the instance). */
interface Held {
  close(): void | Promise<void>;
}

async function openRaw(args: OwnerArgs): Promise<Held> {
  const readOnly = args.mode === 'reader';
  let instance: DuckDBInstance | undefined;
  let conn: DuckDBConnection | undefined;
  try {
    if (args.openVia === 'attach') {
      instance = await DuckDBInstance.create(':memory:');
      conn = await DuckDBConnection.create(instance);
      const path = args.dbPath.replaceAll("'", "''");
      await conn.run(`ATTACH '${path}' AS db${readOnly ? ' (READ_ONLY)' : ''}`);
    } else {
      instance = await DuckDBInstance.create(args.dbPath, {
        access_mode: readOnly ? 'READ_ONLY' : 'READ_WRITE',
      });
      conn = await DuckDBConnection.create(instance);
    }
    if (args.checkpoint) await conn.run('CHECKPOINT');
  } catch (error) {
    conn?.closeSync();
    instance?.closeSync();
    throw translateOpenError(error, args.dbPath);
  }
  const [i, c] = [instance, conn];
  return {
    close() {
      c.closeSync();
      i.closeSync();
    },
  };
}

async function openIndex(args: OwnerArgs): Promise<Held> {
  const embedder = createDefaultEmbedder();
  const db = await Database.open(args.dbPath, {
    mode: args.mode,
    dimensions: embedder.dimensions,
    embedder: embedder.name,
    openVia: args.openVia,
  });
  try {
    if (args.indexFiles.length > 0) {
      const prepared = await Promise.all(
        args.indexFiles.map(async (f) =>
          prepareFile(f.path, await readFile(f.contentFile, 'utf8'), embedder),
        ),
      );
      await db.upsertFiles(prepared);
    }
    if (args.checkpoint) await db.checkpoint();
    if (args.serveIpc) {
      await db.vectorCache(); // loaded before serving (see src/strategies/ipc.ts)
      const searcher = new Searcher(db, embedder);
      const server = await IpcServer.listen(ipcSocketPath(dirname(args.dbPath)), {
        search: ({ query, ...options }) => searcher.search(query, options),
        status: async () => {
          const stats = await db.stats();
          return {
            pid: process.pid,
            db: args.dbPath,
            holding: true,
            files: stats.files,
            chunks: stats.chunks,
          };
        },
      });
      return {
        async close() {
          await server.close();
          await db.close();
        },
      };
    }
  } catch (error) {
    await db.close();
    throw error;
  }
  return db;
}

function exitCodeFor(error: unknown): number {
  if (!(error instanceof EmbecodeError)) return 1;
  if (error.kind === 'usage') return EXIT_USAGE;
  if (error.kind === 'locked') return EXIT_LOCKED;
  return 1;
}

async function main(argv: readonly string[]): Promise<void> {
  // Listen before opening, so a stdin closed during start-up is not missed.
  const stdinClosed = new Promise<void>((resolve) => {
    process.stdin.once('end', resolve);
    process.stdin.once('close', resolve);
    process.stdin.once('error', () => resolve());
    process.stdin.resume();
  });
  let held: Held;
  try {
    const args = parseOwnerArgs(argv);
    held = args.raw ? await openRaw(args) : await openIndex(args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    const kind = error instanceof EmbecodeError ? error.kind : 'error';
    process.stderr.write(`owner-process: ${kind}: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
    process.exit(exitCodeFor(error));
  }
  process.stdout.write('ready\n');
  await stdinClosed;
  await held.close();
  process.exit(0);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  void main(process.argv.slice(2));
}
