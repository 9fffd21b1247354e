import { readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  type FileId,
  fileId,
  type ProcLock,
  parseProcLocks,
  readProcLocks,
} from '../../election/proc-locks.js';

/**
 * Who holds what, read from outside every serve process: the kernel's lock table (/proc/locks) for
 * the index and the election lock, and /proc/<pid>/fd for which processes have the index open at
 * all. One read of /proc/locks gives both files, so "the same process holds both" is judged on one
 * snapshot, not two reads apart.
 */
export interface LockView {
  /** PIDs with a POSIX WRITE lock on the index. */
  readonly index: readonly number[];
  /** PIDs with any POSIX lock (READ too) on the index. */
  readonly indexAny: readonly number[];
  /** PIDs with a POSIX WRITE lock on the election lock file. */
  readonly election: readonly number[];
  /** The read was one atomic snapshot (see readProcLocks); otherwise an entry may be missing. */
  readonly atomic: boolean;
}

function holders(locks: readonly ProcLock[], id: FileId | undefined, writeOnly: boolean): number[] {
  if (id === undefined) return [];
  const pids = locks
    .filter(
      (l) =>
        !l.blocked &&
        l.type === 'POSIX' &&
        (!writeOnly || l.access === 'WRITE') &&
        l.inode === id.inode &&
        l.major === id.major &&
        l.minor === id.minor,
    )
    .map((l) => l.pid);
  return [...new Set(pids)].sort((a, b) => a - b);
}

/** The lock view now, or undefined where there is no /proc/locks. */
export async function readLockView(dbPath: string, electionLock: string): Promise<LockView | undefined> {
  const [indexId, electionId] = await Promise.all([fileId(dbPath), fileId(electionLock)]);
  const read = await readProcLocks();
  if (read === undefined) return undefined;
  const locks = parseProcLocks(read.text);
  return {
    index: holders(locks, indexId, true),
    indexAny: holders(locks, indexId, false),
    election: holders(locks, electionId, true),
    atomic: read.atomic,
  };
}

/**
 * Whether process `pid` has `path` (or its WAL) open, from /proc/<pid>/fd. False when the process
 * is gone or its fd table cannot be read.
 */
export async function hasOpen(pid: number, paths: readonly string[]): Promise<boolean> {
  const dir = `/proc/${pid}/fd`;
  let fds: string[];
  try {
    fds = await readdir(dir);
  } catch {
    return false;
  }
  for (const fd of fds) {
    const target = await readlink(join(dir, fd)).catch(() => undefined);
    if (target !== undefined && paths.includes(target)) return true;
  }
  return false;
}
