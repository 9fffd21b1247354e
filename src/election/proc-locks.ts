import { existsSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';

/**
 * Who holds a POSIX record lock on a file, read from Linux's `/proc/locks` without opening the file.
 *
 * Opening the lock file to ask (a probe) has side effects: a probe holds a lock for a few ms, and a
 * probe inside the owner's own process would RELEASE the owner's lock when it closes (fcntl locks
 * belong to the process, and closing any descriptor of the file drops them all). `/proc/locks` is the
 * kernel's own table, so it has neither problem. It is a hint for polling and for reporting: the
 * election itself is decided only by DuckDB's `F_SETLK`.
 */

export const PROC_LOCKS = '/proc/locks';

export interface ProcLock {
  /** `POSIX` (fcntl, DuckDB's kind), `FLOCK`, `OFDLCK`, `LEASE`, ... */
  readonly type: string;
  /** `READ` or `WRITE` (for leases also `UNLCK` and the like). */
  readonly access: string;
  /** The holder (or, for a blocked waiter, the waiter). -1 for OFD locks; 0 outside our PID namespace. */
  readonly pid: number;
  readonly major: number;
  readonly minor: number;
  readonly inode: bigint;
  /** True for `->` lines: a process waiting for this lock, not holding it. */
  readonly blocked: boolean;
}

/**
 * Parses `/proc/locks`. Lines look like
 * `1: POSIX  ADVISORY  WRITE 19123 fe:00:2285903 0 EOF` and, for waiters,
 * `1: -> POSIX  ADVISORY  WRITE 19124 fe:00:2285903 0 EOF`. Device numbers are hex, the inode decimal.
 * Lines that do not fit are skipped.
 */
export function parseProcLocks(text: string): ProcLock[] {
  const locks: ProcLock[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    if (fields.length < 2 || !/^\d+:$/.test(fields[0] ?? '')) continue;
    let i = 1;
    const blocked = fields[i] === '->';
    if (blocked) i++;
    const [type, , access, pidText, device] = fields.slice(i, i + 5);
    const dev = /^([0-9a-f]+):([0-9a-f]+):(\d+)$/i.exec(device ?? '');
    if (type === undefined || access === undefined || dev === null || !/^-?\d+$/.test(pidText ?? ''))
      continue;
    locks.push({
      type,
      access,
      pid: Number(pidText),
      major: Number.parseInt(dev[1] as string, 16),
      minor: Number.parseInt(dev[2] as string, 16),
      inode: BigInt(dev[3] as string),
      blocked,
    });
  }
  return locks;
}

/**
 * Splits a userspace `st_dev` (glibc's `makedev` encoding, which Node's `stat` returns) into the
 * major and minor numbers `/proc/locks` prints.
 */
export function decodeDev(dev: bigint): { major: number; minor: number } {
  const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & 0xfffff000n);
  const minor = (dev & 0xffn) | ((dev >> 12n) & 0xffffff00n);
  return { major: Number(major), minor: Number(minor) };
}

export interface FileId {
  readonly major: number;
  readonly minor: number;
  readonly inode: bigint;
}

/** Every PID holding a POSIX WRITE lock on the file `id` (the kernel allows at most one). */
export function writeLockHolders(locks: readonly ProcLock[], id: FileId): number[] {
  return locks
    .filter(
      (l) =>
        !l.blocked &&
        l.type === 'POSIX' &&
        l.access === 'WRITE' &&
        l.inode === id.inode &&
        l.major === id.major &&
        l.minor === id.minor,
    )
    .map((l) => l.pid);
}

/** The PID holding a POSIX WRITE lock on the file `id`, or undefined when none does. */
export function writeLockHolder(locks: readonly ProcLock[], id: FileId): number | undefined {
  return writeLockHolders(locks, id)[0];
}

export function procLocksAvailable(): boolean {
  return existsSync(PROC_LOCKS);
}

/** The identity of the file at `path` as `/proc/locks` names it, or undefined when it does not exist. */
export async function fileId(path: string): Promise<FileId | undefined> {
  try {
    const st = await stat(path, { bigint: true });
    return { ...decodeDev(st.dev), inode: st.ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

export type HolderLookup =
  /** `pid` holds the WRITE lock; `undefined`: nobody does (or the file does not exist). */
  | { readonly known: true; readonly pid: number | undefined }
  /** No `/proc/locks` here: ask some other way. */
  | { readonly known: false };

/** A record of /proc/locks is at most ~100 bytes; a first read this short cannot have been cut off. */
const SNAPSHOT_BYTES = 4096 - 256;

/**
 * Reads `/proc/locks`. The kernel serves it one page per read() call and takes its lock per call, so
 * a file read in several calls is not a snapshot: locks added or removed between the calls shift the
 * positions, and an entry can be listed twice or skipped (duplicates were seen here under load). A
 * first read that comes back well short of a page ended at the end of the list: that is an atomic
 * snapshot, and `atomic` says so.
 */
export async function readProcLocks(): Promise<{ text: string; atomic: boolean } | undefined> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(PROC_LOCKS, 'r');
  } catch {
    return undefined;
  }
  try {
    const chunks: Buffer[] = [];
    let atomic = true;
    for (let first = true; ; first = false) {
      const buffer = Buffer.alloc(64 * 1024);
      const { bytesRead } = await handle.read(buffer, 0, buffer.length, null);
      if (bytesRead === 0) break;
      chunks.push(buffer.subarray(0, bytesRead));
      if (first && bytesRead < SNAPSHOT_BYTES) break;
      atomic = false;
    }
    return { text: Buffer.concat(chunks).toString('utf8'), atomic };
  } finally {
    await handle.close();
  }
}

/**
 * Every PID the kernel lists as holding a WRITE lock on `path` (distinct; [] when the file does not
 * exist), or undefined without `/proc/locks`. A read that was not a snapshot and found nobody is
 * repeated a few times, since an entry can be skipped.
 */
export async function procWriteLockHolders(path: string): Promise<number[] | undefined> {
  if (!procLocksAvailable()) return undefined;
  const id = await fileId(path);
  if (id === undefined) return [];
  for (let attempt = 0; ; attempt++) {
    const read = await readProcLocks();
    if (read === undefined) return undefined;
    const holders = [...new Set(writeLockHolders(parseProcLocks(read.text), id))];
    if (holders.length > 0 || read.atomic || attempt >= 3) return holders;
  }
}

/** Reads `/proc/locks` for the holder of the WRITE lock on `path`. */
export async function procLockHolder(path: string): Promise<HolderLookup> {
  const holders = await procWriteLockHolders(path);
  if (holders === undefined) return { known: false };
  return { known: true, pid: holders[0] };
}
