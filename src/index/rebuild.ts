import { existsSync } from 'node:fs';
import { open, rename } from 'node:fs/promises';
import { EmbecodeError } from '../errors.js';
import { Database, notAnIndex } from './database.js';

/**
 * `embecode index --rebuild`: the index at `dbPath` (and its WAL) is moved aside, never deleted, so
 * that a new one can be built in its place, and a damaged file stays for anyone who wants to look
 * at it. Refuses, touching nothing, a file that is not an embecode index (the user's own file given
 * to --db by mistake) and an index another process holds open (a `serve` owner still uses it).
 */

export interface MovedFile {
  readonly from: string;
  readonly to: string;
}

/** DuckDB's files carry "DUCK" at byte 8 of their first header. */
const MAGIC = Buffer.from('DUCK');
const MAGIC_OFFSET = 8;

/** Moves the index and its WAL aside; resolves to what moved where (nothing when there is no index). */
export async function moveIndexAside(dbPath: string, now: Date = new Date()): Promise<MovedFile[]> {
  if (!existsSync(dbPath)) return [];
  if (!(await hasDuckDBMagic(dbPath))) throw notAnIndex(dbPath, 'not a DuckDB database file');
  await assertNotHeldAndOurs(dbPath);
  const target = freeName(`${dbPath}.before-rebuild-${now.toISOString().replace(/[:.]/g, '-')}`);
  const moved: MovedFile[] = [];
  // The WAL goes first and under the name DuckDB looks for beside the moved file, so that the
  // moved copy opens with its last commits.
  for (const [from, to] of [
    [`${dbPath}.wal`, `${target}.wal`],
    [dbPath, target],
  ] as const) {
    if (!existsSync(from)) continue;
    try {
      await rename(from, to);
    } catch (error) {
      throw new EmbecodeError(
        'io',
        `cannot move ${from} aside to ${to}: ${(error as NodeJS.ErrnoException).code ?? String(error)}; nothing was deleted`,
        { cause: error },
      );
    }
    moved.push({ from, to });
  }
  return moved;
}

/** Reads 12 bytes in this process, which holds no lock on the file (nothing else of it is open here). */
async function hasDuckDBMagic(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const header = Buffer.alloc(MAGIC_OFFSET + MAGIC.length);
    const { bytesRead } = await handle.read(header, 0, header.length, 0);
    return bytesRead === header.length && header.subarray(MAGIC_OFFSET).equals(MAGIC);
  } finally {
    await handle.close();
  }
}

/**
 * A read-only open takes DuckDB's shared lock: it fails with `locked` while any process holds the
 * file read-write, and with `usage` for another program's DuckDB file. Any other failure (a damaged
 * file) is what --rebuild is for.
 */
async function assertNotHeldAndOurs(dbPath: string): Promise<void> {
  try {
    const db = await Database.open(dbPath, { mode: 'reader' });
    await db.close();
  } catch (error) {
    if (error instanceof EmbecodeError && (error.kind === 'locked' || error.kind === 'usage')) throw error;
  }
}

function freeName(base: string): string {
  let name = base;
  for (let n = 2; existsSync(name) || existsSync(`${name}.wal`); n++) name = `${base}-${n}`;
  return name;
}
