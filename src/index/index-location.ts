import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { access, mkdir, realpath, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, isAbsolute, join, resolve } from 'node:path';
import { EmbecodeError } from '../errors.js';
import { assertDirectory } from './walker.js';

/**
 * Where a project's index lives unless `--db` says otherwise:
 * `${XDG_CACHE_HOME:-~/.cache}/embecode/<basename>-<hash of the project's real path>/index.db`.
 * The real path (symlinks resolved) makes `.`, `../proj` and a symlink to the project share one index;
 * the basename keeps the directory recognisable to a person listing the cache.
 */

export const INDEX_FILE_NAME = 'index.db';
const HASH_CHARS = 12;
export const PRIVATE_DIR_MODE = 0o700;

/** `$XDG_CACHE_HOME/embecode`, or `~/.cache/embecode`. A relative XDG_CACHE_HOME is ignored, as the spec says. */
export function cacheDir(env: NodeJS.ProcessEnv = process.env): string {
  const xdg = env.XDG_CACHE_HOME;
  const base = xdg !== undefined && xdg !== '' && isAbsolute(xdg) ? xdg : join(homedir(), '.cache');
  return join(base, 'embecode');
}

/** The default index path of the project at `projectDir`, which must exist. */
export async function defaultDbPath(
  projectDir: string,
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  await assertDirectory(projectDir);
  const real = await realpath(projectDir);
  const hash = createHash('sha256').update(real).digest('hex').slice(0, HASH_CHARS);
  const name = (basename(real) || 'root').replace(/[^A-Za-z0-9._-]/g, '_');
  return join(cacheDir(env), `${name}-${hash}`, INDEX_FILE_NAME);
}

/** `--db` when given (made absolute), else the default for `--dir` (default: the current directory). */
export async function resolveDbPath(
  options: { db?: string | undefined; dir?: string | undefined },
  env: NodeJS.ProcessEnv = process.env,
): Promise<string> {
  if (options.db !== undefined) {
    if (options.db.trim() === '') throw new EmbecodeError('usage', '--db needs a file path');
    return resolve(options.db);
  }
  return defaultDbPath(options.dir ?? '.', env);
}

/**
 * Makes sure an index can be written at `dbPath` before anything is written: creates its directory
 * (and parents), and checks that the directory is writable and that `dbPath` is not a directory.
 * Fails with a one-line error of kind `io` and leaves nothing behind when it cannot.
 */
export async function prepareDbLocation(dbPath: string): Promise<void> {
  const parent = dirname(dbPath);
  try {
    // 0700 like the state directory: the index inside holds the project's source text. Only
    // directories made here get it (mkdir's mode applies to those; the umask can only remove bits).
    await mkdir(parent, { recursive: true, mode: PRIVATE_DIR_MODE });
  } catch (error) {
    throw new EmbecodeError('io', `cannot create directory ${parent} for index ${dbPath}: ${reason(error)}`, {
      cause: error,
    });
  }
  try {
    await access(parent, constants.W_OK | constants.X_OK);
  } catch (error) {
    throw new EmbecodeError('io', `cannot write index ${dbPath}: directory ${parent} is not writable`, {
      cause: error,
    });
  }
  const existing = await stat(dbPath).catch(() => undefined);
  if (existing?.isDirectory()) {
    throw new EmbecodeError('usage', `index path ${dbPath} is a directory; pass a file path to --db`);
  }
  if (existing === undefined) await probeCreate(dbPath, parent);
}

/**
 * access(W_OK) says yes to root everywhere, /proc and read-only bind mounts included: creating a
 * file beside the index is the check that tells. The probe has its own name, so a process opening
 * the index meanwhile never meets an empty file at its path (DuckDB refuses those).
 */
async function probeCreate(dbPath: string, parent: string): Promise<void> {
  const probe = `${dbPath}.probe-${process.pid}`;
  try {
    await writeFile(probe, '', { flag: 'wx', mode: 0o600 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return; // a leftover probe: writable
    throw new EmbecodeError(
      'io',
      `cannot write index ${dbPath}: files cannot be created in ${parent} (${reason(error)})`,
      { cause: error },
    );
  }
  await rm(probe, { force: true });
}

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  switch (code) {
    case 'ENOTDIR':
    case 'EEXIST':
      return 'a path component is a file, not a directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EROFS':
      return 'read-only file system';
    case 'ENOSPC':
      return 'no space left on device';
    case 'ENOENT':
      return 'this file system does not let files be created there';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}
