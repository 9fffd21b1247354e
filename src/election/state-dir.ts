import { chmod, lstat, mkdir, realpath } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { EmbecodeError } from '../errors.js';

/**
 * A project's state directory holds the election lock (`owner.lock.db`), the owner record
 * (`owner.json`) and, later, the owner's socket. Anyone who can write in it can plant a record or
 * replace the lock file, so it must be private: a real directory (not a symlink), owned by this
 * user, with no group or other permission bits (0700). An existing directory that is not is refused,
 * never silently chmod-ed: someone else may be relying on it, or attacking through it.
 */

/** The state directory of the index at `dbPath`: next to it, `<index file>.state/`. */
export function stateDirForIndex(dbPath: string): string {
  const absolute = resolve(dbPath);
  return join(dirname(absolute), `${basename(absolute)}.state`);
}

export interface DirFacts {
  readonly isDirectory: boolean;
  readonly isSymbolicLink: boolean;
  readonly mode: number;
  readonly uid: number;
}

/**
 * Why `dir` (with these facts) is not a safe state directory for user `uid`, in one line, or
 * undefined when it is. `uid` undefined (no getuid, e.g. Windows) skips the owner check.
 */
export function privateDirProblem(dir: string, facts: DirFacts, uid: number | undefined): string | undefined {
  if (facts.isSymbolicLink) return `state directory ${dir} is a symbolic link; use a real directory`;
  if (!facts.isDirectory) return `state directory ${dir} exists but is not a directory`;
  if (uid !== undefined && facts.uid !== uid) {
    return `state directory ${dir} is owned by uid ${facts.uid}, not by this user (uid ${uid}); refusing to use it`;
  }
  const mode = facts.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    return `state directory ${dir} has mode ${mode.toString(8).padStart(4, '0')}, but must be private (0700); run: chmod 700 ${dir}`;
  }
  return undefined;
}

export function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

async function factsOf(dir: string): Promise<DirFacts | undefined> {
  try {
    const st = await lstat(dir);
    return { isDirectory: st.isDirectory(), isSymbolicLink: st.isSymbolicLink(), mode: st.mode, uid: st.uid };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw new EmbecodeError('io', `cannot inspect state directory ${dir}: ${errorText(error)}`, {
      cause: error,
    });
  }
}

/** Throws the one-line `io` error when `dir` exists and is not private. Returns whether it exists. */
export async function checkStateDir(dir: string): Promise<boolean> {
  const facts = await factsOf(dir);
  if (facts === undefined) return false;
  const problem = privateDirProblem(dir, facts, currentUid());
  if (problem !== undefined) throw new EmbecodeError('io', problem);
  return true;
}

/**
 * Creates `dir` (and its parents) with mode 0700 when missing, then checks it is private.
 * Returns its real path: the key this process uses to remember what it holds.
 */
export async function ensureStateDir(dir: string): Promise<string> {
  const absolute = resolve(dir);
  if (!(await checkStateDir(absolute))) {
    try {
      // `made` is undefined when a concurrent candidate created it first: then it is not ours to chmod.
      const made = await mkdir(absolute, { recursive: true, mode: 0o700 });
      // mkdir's mode passes through the umask, which can only remove bits; chmod says it exactly.
      if (made !== undefined) await chmod(absolute, 0o700);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
        throw new EmbecodeError('io', `cannot create state directory ${absolute}: ${errorText(error)}`, {
          cause: error,
        });
      }
    }
    // Made by us or by a concurrent candidate: check it whoever made it.
    await checkStateDir(absolute);
  }
  return realpath(absolute);
}

export function errorText(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ENOTDIR') return 'a path component is not a directory';
  if (code === 'EROFS') return 'read-only file system';
  if (code === 'ENOSPC') return 'no space left on device';
  return code ?? (error instanceof Error ? error.message : String(error));
}
