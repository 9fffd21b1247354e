import { randomBytes } from 'node:crypto';
import { chmod, link, lstat, readdir, realpath, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { EmbecodeError } from '../errors.js';
import { DuckDBInstance } from '../index/duckdb-api.js';
import { type ClassifiedDuckDBError, classifyDuckDBError } from '../index/duckdb-errors.js';
import { onTerminate } from '../process/cleanup.js';
import { pidAlive } from '../process/pid-alive.js';
import {
  newOwnerRecord,
  type OwnerRecord,
  readOwnerRecord,
  removeOwnRecordSync,
  writeOwnerRecord,
} from './owner-record.js';
import { procLockHolder } from './proc-locks.js';
import { checkStateDir, currentUid, ensureStateDir, errorText } from './state-dir.js';

/**
 * Owner election for one project: the process that holds the election lock is the owner; everyone
 * else is a reader. The lock is DuckDB's own file lock on a small dedicated database,
 * `<state dir>/owner.lock.db`: DuckDB takes it with a non-blocking `fcntl(F_SETLK, F_WRLCK)` on the
 * whole file when it opens the file read-write, and the kernel drops it when the holder exits,
 * however it exits (SIGKILL included). So:
 *
 * - At most one owner: the kernel grants a write lock to one process at a time. Deciding is one
 *   atomic system call, not a check-then-create on a PID file, and a dead owner leaves no stale lock
 *   and no PID that could be reused.
 * - At least one owner, eventually: readers poll (`watchForTakeover`) and try the same call when
 *   the lock is free; the first to try wins and the others see a conflict again.
 * - `owner.json` (PID, host, published info such as a socket path) is for discovery only. Candidates
 *   never read it; `currentOwner` checks it against the lock holder.
 *
 * THE POSIX PITFALL. fcntl locks belong to the process, not to the descriptor, and closing ANY
 * descriptor of the file releases ALL of the process's locks on it. DuckDB happily opens the same
 * file twice in one process (the second lock request succeeds: a process never conflicts with
 * itself), and closing either instance, or `fs.readFile` of the lock file, silently releases the
 * owner's lock while it still believes it is the owner. Hence, in this module:
 * - The lock file is only ever opened through `claimSlot`, which allows one open (owner, candidate
 *   or probe) per state directory per process at a time; a second `tryBecomeOwner` for a directory
 *   this process holds or is electing throws a `usage` error instead of opening it again.
 * - Nothing else may open `owner.lock.db` (no `readFile`, no `copyFile`, no `DuckDBInstance` of your
 *   own): use `currentOwner`, which reads `/proc/locks` and never opens the file in a process that
 *   holds it. `lease.check()` reports a lock lost this way.
 *
 * The lock file is created complete before anyone locks it: a fresh database is written under a
 * temp name and hard-linked into place (`link` fails if the name exists, so it never replaces a lock
 * file someone may hold). A candidate killed while creating one leaves a temp file, never a
 * half-written `owner.lock.db`. A lock file that is corrupt anyway (garbage written into it) cannot be
 * opened by anyone, so it yields no owner and a one-line `corrupt` error saying to remove it; it is
 * never replaced automatically, because replacing a lock file another process may hold is exactly how
 * two owners happen.
 */

export const LOCK_FILE = 'owner.lock.db';
export const RECORD_FILE = 'owner.json';
export const DEFAULT_WATCH_INTERVAL_MS = 50;

/** The lock instance does no work: one thread, no extensions. */
const LOCK_OPTIONS = {
  threads: '1',
  autoload_known_extensions: 'false',
  autoinstall_known_extensions: 'false',
};

export interface OwnerLease {
  readonly role: 'owner';
  /** Real path of the state directory. */
  readonly dir: string;
  readonly lockPath: string;
  readonly recordPath: string;
  readonly pid: number;
  readonly acquiredAt: string;
  readonly released: boolean;
  /** Rewrites `owner.json` with `info` (say, `{ socket: path }`), atomically. */
  publish(info: Readonly<Record<string, unknown>>): Promise<void>;
  /**
   * Asks the kernel (`/proc/locks`) whether this process still holds the lock. `lost` means someone
   * broke the one-open rule above (or replaced the lock file); `unknown` where there is no
   * `/proc/locks`.
   */
  check(): Promise<'held' | 'lost' | 'unknown'>;
  /** Removes `owner.json` (while still holding the lock), then closes the lock. Safe to call twice. */
  release(): Promise<void>;
}

/**
 * Someone held the lock at the instant of the attempt. Usually the owner, but not always: DuckDB
 * takes the lock before it reads the file, so a candidate whose open is failing (corrupt lock file)
 * or a `currentOwner` probe holds it for a few ms too. A reader result is therefore a snapshot, never
 * a promise that an owner exists: keep a `watchForTakeover` running, which settles it either way.
 */
export interface ReaderRole {
  readonly role: 'reader';
  readonly dir: string;
  /** The lock holder as the kernel named it at the moment of the attempt. */
  readonly ownerPid?: number;
}

export type ElectionResult = OwnerLease | ReaderRole;

export interface ElectionOptions {
  /** Written into `owner.json` as `info` when this process becomes the owner. */
  readonly info?: Readonly<Record<string, unknown>>;
}

type Slot = { readonly state: 'opening' } | { readonly state: 'owner'; readonly lease: Lease };

/** State directories (real paths) whose lock file this process has open or is opening. */
const slots = new Map<string, Slot>();

function claimSlot(dir: string, what: string): void {
  const slot = slots.get(dir);
  if (slot === undefined) {
    slots.set(dir, { state: 'opening' });
    return;
  }
  const now = slot.state === 'owner' ? 'already owns' : 'is already opening the election lock of';
  throw new EmbecodeError(
    'usage',
    `process ${process.pid} ${now} ${dir}; ${what} would open ${LOCK_FILE} a second time, and closing either copy drops the process's lock: use one election per directory per process`,
  );
}

function freeSlot(dir: string): void {
  if (slots.get(dir)?.state === 'opening') slots.delete(dir);
}

class Lease implements OwnerLease {
  readonly role = 'owner' as const;
  readonly pid = process.pid;
  readonly lockPath: string;
  readonly recordPath: string;
  readonly acquiredAt: string;
  private record: OwnerRecord;
  private instance: DuckDBInstance | undefined;
  private readonly forgetExitHook: () => void;

  constructor(
    readonly dir: string,
    instance: DuckDBInstance,
    info: Readonly<Record<string, unknown>>,
  ) {
    this.lockPath = join(dir, LOCK_FILE);
    this.recordPath = join(dir, RECORD_FILE);
    this.instance = instance;
    this.record = newOwnerRecord(info);
    this.acquiredAt = this.record.acquiredAt;
    // On exit the kernel drops the lock by itself; take the record with it while we still hold it.
    this.forgetExitHook = onTerminate(() => removeOwnRecordSync(this.recordPath));
  }

  get released(): boolean {
    return this.instance === undefined;
  }

  /** Writes `owner.json` from the current record. */
  writeRecord(): Promise<void> {
    return writeOwnerRecord(this.recordPath, this.record);
  }

  async publish(info: Readonly<Record<string, unknown>>): Promise<void> {
    if (this.released) {
      throw new EmbecodeError('usage', `process ${this.pid} no longer owns ${this.dir}; cannot publish`);
    }
    const record = { ...this.record, info };
    await writeOwnerRecord(this.recordPath, record);
    this.record = record;
  }

  async check(): Promise<'held' | 'lost' | 'unknown'> {
    if (this.released) return 'lost';
    const holder = await procLockHolder(this.lockPath);
    if (!holder.known) return 'unknown';
    return holder.pid === this.pid ? 'held' : 'lost';
  }

  async release(): Promise<void> {
    const instance = this.instance;
    if (instance === undefined) return;
    this.instance = undefined;
    try {
      removeOwnRecordSync(this.recordPath);
    } finally {
      instance.closeSync();
      slots.delete(this.dir);
      this.forgetExitHook();
    }
  }
}

/**
 * Tries once, without waiting, to become the owner of the project whose state directory is `dir`
 * (created 0700 if missing; refused with an `io` error if not private). Resolves `owner` with a
 * lease, or `reader` with the owner's PID. Throws a one-line EmbecodeError when the lock file is
 * unusable (`corrupt`, `io`), or `usage` when this process already holds or is electing `dir`.
 */
export async function tryBecomeOwner(dir: string, options: ElectionOptions = {}): Promise<ElectionResult> {
  const key = await ensureStateDir(dir);
  claimSlot(key, 'tryBecomeOwner');
  try {
    const lockPath = join(key, LOCK_FILE);
    await ensureLockFile(lockPath);
    const opened = await openLock(lockPath, 'READ_WRITE');
    if (opened.instance === undefined) {
      freeSlot(key);
      return opened.holderPid === undefined
        ? { role: 'reader', dir: key }
        : { role: 'reader', dir: key, ownerPid: opened.holderPid };
    }
    const lease = new Lease(key, opened.instance, options.info ?? {});
    slots.set(key, { state: 'owner', lease });
    try {
      await lease.writeRecord();
    } catch (error) {
      await lease.release();
      throw new EmbecodeError(
        'io',
        `won the election for ${key} but cannot write ${lease.recordPath}: ${errorText(error)}; gave the lock up again`,
        { cause: error },
      );
    }
    await sweepTempFiles(key);
    return lease;
  } finally {
    freeSlot(key);
  }
}

export interface WatchOptions {
  /** How often to look for a free lock; default 50 ms. */
  readonly intervalMs?: number;
  /** Called once, with the lease, when this process takes over. */
  readonly onOwner?: (lease: OwnerLease) => void;
  /** Passed on to `tryBecomeOwner`. */
  readonly info?: Readonly<Record<string, unknown>>;
}

export interface TakeoverWatch {
  /** Stops polling. A lease already handed to `onOwner` stays held: release it yourself. */
  stop(): void;
  /**
   * The lease once taken; undefined once stopped first. Rejects (and stops) on an error that polling
   * cannot fix: the directory is no longer private, the lock file is corrupt, or `onOwner` threw (the
   * lease is then released).
   */
  readonly result: Promise<OwnerLease | undefined>;
}

/**
 * For a reader: polls, without blocking, until the owner's lock is gone and then takes it. Each
 * poll reads `/proc/locks` first (no file is opened while the lock is visibly held) and otherwise
 * tries `tryBecomeOwner`, so when several readers watch, the kernel lets exactly one of them win.
 * The first poll runs at once.
 */
export function watchForTakeover(dir: string, options: WatchOptions = {}): TakeoverWatch {
  const intervalMs = options.intervalMs ?? DEFAULT_WATCH_INTERVAL_MS;
  if (!(intervalMs > 0)) throw new EmbecodeError('usage', `intervalMs must be positive, not ${intervalMs}`);
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let wake: (() => void) | undefined;
  const result = new Promise<OwnerLease | undefined>((resolve, reject) => {
    wake = () => resolve(undefined);
    const tick = async (): Promise<void> => {
      timer = undefined;
      if (stopped) return resolve(undefined);
      try {
        const key = await ensureStateDir(dir);
        const hint = await procLockHolder(join(key, LOCK_FILE));
        const visiblyHeld = hint.known && hint.pid !== undefined && hint.pid !== process.pid;
        if (!visiblyHeld) {
          const attempt = await tryBecomeOwner(key, options.info === undefined ? {} : { info: options.info });
          if (attempt.role === 'owner') {
            if (stopped) {
              await attempt.release();
              return resolve(undefined);
            }
            stopped = true;
            try {
              options.onOwner?.(attempt);
            } catch (error) {
              await attempt.release();
              return reject(error);
            }
            return resolve(attempt);
          }
        }
      } catch (error) {
        stopped = true;
        return reject(error);
      }
      if (stopped) return resolve(undefined);
      timer = setTimeout(() => void tick(), intervalMs);
    };
    void tick();
  });
  return {
    stop() {
      if (stopped) return;
      stopped = true;
      // A poll in flight resolves by itself when it sees `stopped`; a sleeping one is woken here.
      if (timer !== undefined) {
        clearTimeout(timer);
        timer = undefined;
        wake?.();
      }
    },
    result,
  };
}

export type RecordStatus =
  /** The record names the process that holds the lock. */
  | { readonly state: 'current'; readonly record: OwnerRecord }
  /** The record names a process that does not hold the lock (dead, or alive and unrelated). */
  | { readonly state: 'stale'; readonly record: OwnerRecord; readonly reason: string }
  | { readonly state: 'missing' }
  | { readonly state: 'corrupt'; readonly reason: string };

export interface OwnerStatus {
  readonly dir: string;
  /** The PID holding the election lock right now (the kernel's answer), or undefined: no owner. */
  readonly pid: number | undefined;
  /**
   * `proc-locks`: read from the kernel's table, no side effects. `self`: this process. `probe`: no
   * `/proc/locks`, so the lock file was opened READ_ONLY for a few ms (a candidate trying at that
   * instant sees a conflict and must retry, which watchers do). `unknown`: this process is itself
   * opening the lock right now, so probing could break its lock; `pid` is then undefined.
   */
  readonly via: 'proc-locks' | 'self' | 'probe' | 'unknown';
  readonly record: RecordStatus;
}

export interface CurrentOwnerOptions {
  /**
   * Ask by opening the lock file READ_ONLY even where `/proc/locks` exists: the portable path, for
   * tests. Still never done in a process that holds or is opening the lock.
   */
  readonly probe?: boolean;
}

/**
 * Who owns the project whose state directory is `dir`: the lock holder, and the side record
 * validated against it. Never opens the lock file in a process that holds or is opening it, and
 * never creates anything. Refuses (one-line `io` error) a directory that is not private.
 */
export async function currentOwner(dir: string, options: CurrentOwnerOptions = {}): Promise<OwnerStatus> {
  const exists = await checkStateDir(dir);
  if (!exists) return { dir, pid: undefined, via: 'proc-locks', record: { state: 'missing' } };
  const key = await realpath(resolve(dir));
  const holder = await lockHolder(key, options.probe === true);
  const read = await readOwnerRecord(join(key, RECORD_FILE));
  return { dir: key, ...holder, record: judgeRecord(read, holder.pid) };
}

function judgeRecord(
  read: Awaited<ReturnType<typeof readOwnerRecord>>,
  holderPid: number | undefined,
): RecordStatus {
  if (read.state !== 'ok') return read;
  const { record } = read;
  if (holderPid !== undefined && record.pid === holderPid) return { state: 'current', record };
  const now = holderPid === undefined ? 'nobody holds the lock' : `the lock is held by process ${holderPid}`;
  const reason = pidAlive(record.pid)
    ? `process ${record.pid} is running but does not hold the lock (${now})`
    : `process ${record.pid} is not running (${now})`;
  return { state: 'stale', record, reason };
}

async function lockHolder(key: string, probe: boolean): Promise<Pick<OwnerStatus, 'pid' | 'via'>> {
  const slot = slots.get(key);
  if (slot?.state === 'owner') return { pid: process.pid, via: 'self' };
  const lockPath = join(key, LOCK_FILE);
  const fromKernel = probe ? { known: false as const } : await procLockHolder(lockPath);
  if (fromKernel.known) return { pid: fromKernel.pid, via: 'proc-locks' };
  if (slot !== undefined) return { pid: undefined, via: 'unknown' };
  const exists = await lstat(lockPath).then(
    () => true,
    () => false,
  );
  if (!exists) return { pid: undefined, via: 'probe' };
  claimSlot(key, 'currentOwner');
  try {
    const opened = await openLock(lockPath, 'READ_ONLY');
    opened.instance?.closeSync();
    return { pid: opened.holderPid, via: 'probe' };
  } finally {
    freeSlot(key);
  }
}

interface Opened {
  readonly instance: DuckDBInstance | undefined;
  readonly holderPid?: number;
}

/** One non-blocking lock attempt. Only callers holding the directory's slot may call this. */
async function openLock(lockPath: string, access: 'READ_WRITE' | 'READ_ONLY'): Promise<Opened> {
  try {
    const options = access === 'READ_ONLY' ? { ...LOCK_OPTIONS, access_mode: 'READ_ONLY' } : LOCK_OPTIONS;
    return { instance: await DuckDBInstance.create(lockPath, options) };
  } catch (error) {
    const classified = classifyDuckDBError(error);
    if (classified.kind === 'locked') {
      return classified.holderPid === undefined
        ? { instance: undefined }
        : { instance: undefined, holderPid: classified.holderPid };
    }
    throw lockFileError(lockPath, classified, error);
  }
}

/**
 * DuckDB's failures to open the lock file, other than a conflict. DuckDB takes the lock before it
 * reads a byte, so such a failure means nobody holds the file, and nobody can while it is damaged:
 * removing it is safe, and the message says so.
 */
export function lockFileError(
  lockPath: string,
  classified: ClassifiedDuckDBError,
  cause?: unknown,
): EmbecodeError {
  const duckdb = classified.message.split('\n')[0]?.trim() ?? '';
  if (classified.kind === 'corrupt') {
    return new EmbecodeError(
      'corrupt',
      `election lock file ${lockPath} is corrupt and nobody holds it; remove it (rm ${lockPath}) and retry (DuckDB: ${duckdb})`,
      { cause },
    );
  }
  return new EmbecodeError(
    'io',
    `cannot open election lock file ${lockPath}; nobody holds it: if it is damaged, remove it (rm ${lockPath}) and retry (DuckDB: ${duckdb})`,
    { cause },
  );
}

/**
 * Makes sure `lockPath` exists as a complete DuckDB file owned by this user. A new one is built
 * under a temp name and hard-linked into place, so nobody ever opens a half-written lock file, and
 * an existing one (perhaps held) is never replaced.
 */
async function ensureLockFile(lockPath: string): Promise<void> {
  const facts = await lstat(lockPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw new EmbecodeError('io', `cannot inspect election lock file ${lockPath}: ${errorText(error)}`, {
      cause: error,
    });
  });
  if (facts !== undefined) {
    if (!facts.isFile()) {
      throw new EmbecodeError(
        'io',
        `election lock file ${lockPath} is not a regular file${facts.isSymbolicLink() ? ' (a symbolic link)' : ''}; refusing to use it`,
      );
    }
    const uid = currentUid();
    if (uid !== undefined && facts.uid !== uid) {
      throw new EmbecodeError(
        'io',
        `election lock file ${lockPath} is owned by uid ${facts.uid}, not by this user (uid ${uid}); refusing to use it`,
      );
    }
    return;
  }
  const temp = `${lockPath}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    let instance: DuckDBInstance;
    try {
      instance = await DuckDBInstance.create(temp, LOCK_OPTIONS);
    } catch (error) {
      throw lockFileError(temp, classifyDuckDBError(error), error);
    }
    instance.closeSync();
    await chmod(temp, 0o600);
    await link(temp, lockPath).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') return; // A concurrent candidate linked its copy first: use that.
      throw new EmbecodeError('io', `cannot create election lock file ${lockPath}: ${errorText(error)}`, {
        cause: error,
      });
    });
  } finally {
    await rm(temp, { force: true });
    await rm(`${temp}.wal`, { force: true });
  }
}

const TEMP_FILE = /^(?:owner\.lock\.db|owner\.json)\.(\d+)\.[0-9a-f]+\.tmp(?:\.wal)?$/;

/** Removes temp files left by candidates or owners that died mid-write. Best effort. */
async function sweepTempFiles(dir: string): Promise<void> {
  try {
    for (const name of await readdir(dir)) {
      const pid = TEMP_FILE.exec(name)?.[1];
      if (pid !== undefined && !pidAlive(Number(pid))) await rm(join(dir, name), { force: true });
    }
  } catch {
    // Leftover temp files are harmless.
  }
}
