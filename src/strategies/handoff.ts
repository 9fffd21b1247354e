import {
  type FSWatcher,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  watch,
  writeFileSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { EmbecodeError } from '../errors.js';
import { Database } from '../index/database.js';
import { classifyDuckDBError, messageOf } from '../index/duckdb-errors.js';
import { Searcher } from '../index/search.js';
import type { IndexStats, PreparedFile, SearchOptions, SearchResult } from '../index/types.js';
import { pidAlive } from '../process/pid-alive.js';
import { noteLockConflict, noteLockWait } from './lock-waits.js';
import type { OwnerSide, ReaderSide, Strategy, StrategyContext } from './strategy.js';

/**
 * The owner opens the index read-write only while it writes (open, write, close: a clean close
 * checkpoints, and releases the OS lock); readers open it READ_ONLY in between. DuckDB's lock makes
 * the two exclusive, so a reader's handle always holds the latest commit: the owner cannot write
 * while any reader has the file open.
 *
 * Coordination, so that neither side starves (files in `<workDir>/handoff/`):
 * - `write-intent` (`<pid> <epoch ms>`): the owner announces a write before it tries the lock.
 *   Readers then start no new hold (they wait, bounded), and a reader holding the file idle closes
 *   it at once (it watches the directory). The searches in flight finish, and the owner gets in.
 * - `read-wait-<pid>`: a reader process that has waited for a writer. Before announcing its next
 *   write the owner waits (at most `ownerYieldMs`) for these to go, so back-to-back writes cannot
 *   shut readers out.
 * Markers are advisory: the lock is DuckDB's. A marker of a dead process, or an intent older than
 * the owner's own bound, is ignored. Both sides retry lock conflicts with exponential backoff and
 * jitter, up to `lockBoundMs` per operation; past it they fail with an EmbecodeError (`locked`)
 * naming the file and the process DuckDB says holds it.
 *
 * Within one process DuckDB's lock excludes nothing (POSIX record locks belong to the process, and
 * closing any descriptor of the file drops them all), so readers of one process share one handle
 * per file, and an owner in the same process waits for it like for a foreign reader.
 */

/** Bounds and pacing of the handoff; the defaults are what the strategy in the registry uses. */
export interface HandoffLimits {
  /** Longest either side waits for the lock (conflicts and deferring included) in one operation. */
  readonly lockBoundMs: number;
  /** Longest the owner defers to waiting readers before it announces a write. */
  readonly ownerYieldMs: number;
  /** How long a reader keeps its READ_ONLY handle after its last search when no writer asks for it. */
  readonly lingerMs: number;
  /** Backoff: first delay, doubled per attempt up to the cap, each drawn from [d/2, d] (jitter). */
  readonly backoffBaseMs: number;
  readonly backoffCapMs: number;
}

export const HANDOFF_LIMITS: HandoffLimits = {
  lockBoundMs: 5000,
  ownerYieldMs: 250,
  lingerMs: 200,
  backoffBaseMs: 1,
  backoffCapMs: 32,
};

export const handoff: Strategy = createHandoff();

/** The strategy with other bounds (tests use short ones to provoke timeouts). */
export function createHandoff(limits: HandoffLimits = HANDOFF_LIMITS): Strategy {
  return {
    name: 'handoff',
    description:
      'The owner holds the index read-write only while it writes and readers open it READ_ONLY in between; a search sees every write acknowledged before it started, and lock conflicts are retried on both sides within a bound.',
    contract: 'acknowledged-before-start',
    // The lock is held only while a write runs, and probes are not sent during one: an outsider
    // may get in between writes (as a reader would), so the only rule is DuckDB's own.
    outsiders: [{ target: 'index', resolve: (c) => c.dbPath, verdict: () => 'either' }],
    createOwner: (context) => new HandoffOwner(context, limits),
    createReader: (context) => new HandoffReader(context, limits),
  };
}

export const HANDOFF_DIR = 'handoff';
export const WRITE_INTENT = 'write-intent';
const READ_WAIT_PREFIX = 'read-wait-';
const OWNER_STATS_PREFIX = 'owner-stats-';

export function handoffDir(workDir: string): string {
  return join(workDir, HANDOFF_DIR);
}

// ---------------------------------------------------------------------------------------------
// Counters

/** Lock waits one side saw in this process. */
export interface SideStats {
  /** Operations that needed the lock (owner: acquire and writes; reader: searches and opens). */
  operations: number;
  /** Operations that had to wait at all (a conflict or deferring to the other side). */
  waited: number;
  /** Failed lock attempts (DuckDB said "Conflicting lock"). */
  conflicts: number;
  /** Times this side deferred to the other (reader: to a write intent; owner: to waiting readers). */
  yields: number;
  worstWaitMs: number;
  totalWaitMs: number;
  /** Operations that gave up at the bound. */
  timeouts: number;
}

export interface HandoffStats {
  readonly owner: SideStats;
  readonly reader: SideStats & {
    /** READ_ONLY opens (a handle lingers, so fewer than searches). */
    opens: number;
    /** Idle handles closed because a writer announced itself. */
    closedForWriter: number;
  };
}

function emptySide(): SideStats {
  return { operations: 0, waited: 0, conflicts: 0, yields: 0, worstWaitMs: 0, totalWaitMs: 0, timeouts: 0 };
}

let counters: HandoffStats = { owner: emptySide(), reader: { ...emptySide(), opens: 0, closedForWriter: 0 } };

/** This process's counters (a copy). The owner child's are in `readOwnerStats(workDir)`. */
export function handoffStats(): HandoffStats {
  return { owner: { ...counters.owner }, reader: { ...counters.reader } };
}

export function resetHandoffStats(): void {
  counters = { owner: emptySide(), reader: { ...emptySide(), opens: 0, closedForWriter: 0 } };
}

function recordWait(side: SideStats, waitedMs: number, hadToWait: boolean): void {
  side.operations++;
  if (hadToWait) side.waited++;
  side.totalWaitMs += waitedMs;
  side.worstWaitMs = Math.max(side.worstWaitMs, waitedMs);
  // The tester counts these per request (the reply carries them): see lock-waits.ts.
  if (hadToWait) noteLockWait(waitedMs);
}

/** The owner counters each owner process of this work directory last wrote, by PID. */
export function readOwnerStats(workDir: string): Map<number, SideStats> {
  const dir = handoffDir(workDir);
  const found = new Map<number, SideStats>();
  let names: string[] = [];
  try {
    names = readdirSync(dir);
  } catch {
    return found;
  }
  for (const name of names) {
    if (!name.startsWith(OWNER_STATS_PREFIX)) continue;
    const pid = Number(name.slice(OWNER_STATS_PREFIX.length, -'.json'.length));
    try {
      found.set(pid, JSON.parse(readFileSync(join(dir, name), 'utf8')) as SideStats);
    } catch {
      // Being rewritten: skip it.
    }
  }
  return found;
}

// ---------------------------------------------------------------------------------------------
// Helpers

/** Exponential backoff with "equal jitter": a delay drawn from [d/2, d], d = base * 2^attempt (capped). */
export function backoffDelay(limits: HandoffLimits, attempt: number): number {
  const ceiling = Math.min(limits.backoffCapMs, limits.backoffBaseMs * 2 ** Math.min(attempt, 30));
  return ceiling / 2 + Math.random() * (ceiling / 2);
}

/** The DuckDB lock conflict inside `error` (ours wrap DuckDB's as `cause`), or undefined. */
function lockConflict(error: unknown): { holderPid?: number; message: string } | undefined {
  const inner = error instanceof EmbecodeError && error.cause !== undefined ? error.cause : error;
  if (error instanceof EmbecodeError && error.kind !== 'locked') return undefined;
  const classified = classifyDuckDBError(inner);
  if (classified.kind !== 'locked') return undefined;
  return classified.holderPid === undefined
    ? { message: classified.message }
    : { holderPid: classified.holderPid, message: classified.message };
}

function timeoutError(
  who: string,
  path: string,
  mode: string,
  limits: HandoffLimits,
  attempts: number,
  last: unknown,
  holder: string,
): EmbecodeError {
  const duck = last === undefined ? '' : ` (DuckDB: ${lockConflict(last)?.message ?? messageOf(last)})`;
  return new EmbecodeError(
    'locked',
    `${who} ${process.pid} could not open ${path} ${mode} within ${limits.lockBoundMs} ms (${attempts} attempts): ${holder} kept it${duck}`,
    last instanceof EmbecodeError && last.cause !== undefined
      ? { cause: last.cause }
      : last === undefined
        ? undefined
        : { cause: last },
  );
}

function holderText(last: unknown): string {
  const pid = lockConflict(last)?.holderPid;
  return pid === undefined ? 'another process' : `process ${pid}`;
}

/** The owner announcing a write in `dir`, if its intent is live: its PID. */
function liveIntent(dir: string, limits: HandoffLimits): number | undefined {
  let text: string;
  try {
    text = readFileSync(join(dir, WRITE_INTENT), 'utf8');
  } catch {
    return undefined;
  }
  const [pidText, atText] = text.trim().split(/\s+/);
  const pid = Number(pidText);
  const at = Number(atText);
  // An intent outlives its bound only if its owner hangs or died mid-write: ignore it then.
  if (Number.isFinite(at) && Date.now() - at > limits.lockBoundMs + limits.ownerYieldMs + 1000) {
    return undefined;
  }
  return pid === process.pid || pidAlive(pid) ? pid : undefined;
}

/** PIDs of other live reader processes that wait for a writer in `dir`. */
function waitingReaders(dir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  const pids: number[] = [];
  for (const name of names) {
    if (!name.startsWith(READ_WAIT_PREFIX)) continue;
    const pid = Number(name.slice(READ_WAIT_PREFIX.length));
    if (pid === process.pid) continue;
    if (pidAlive(pid)) pids.push(pid);
    else rmSync(join(dir, name), { force: true });
  }
  return pids;
}

// ---------------------------------------------------------------------------------------------
// One READ_ONLY handle per index file per process

interface SharedRead {
  readonly key: string;
  readonly path: string;
  readonly dir: string;
  /** Bounds of the reader that opened it last. */
  limits: HandoffLimits;
  db: Database | undefined;
  opening: Promise<void> | undefined;
  /** The last close's DETACH while it runs: an open of the file in this process waits for it. */
  closing: Promise<void> | undefined;
  refs: number;
  linger: NodeJS.Timeout | undefined;
  watcher: FSWatcher | undefined;
  /** Searches of this process now waiting for a writer (the read-wait marker exists while > 0). */
  waiting: number;
}

const sharedReads = new Map<string, SharedRead>();
/** Index files an owner of this process is writing right now. */
const localWriters = new Set<string>();

function sharedFor(path: string, dir: string, limits: HandoffLimits): SharedRead {
  const key = resolve(path);
  let shared = sharedReads.get(key);
  if (shared === undefined) {
    shared = {
      key,
      path,
      dir,
      limits,
      db: undefined,
      opening: undefined,
      closing: undefined,
      refs: 0,
      linger: undefined,
      watcher: undefined,
      waiting: 0,
    };
    sharedReads.set(key, shared);
  }
  shared.limits = limits;
  return shared;
}

function closeShared(shared: SharedRead): void {
  if (shared.linger !== undefined) clearTimeout(shared.linger);
  shared.linger = undefined;
  shared.watcher?.close();
  shared.watcher = undefined;
  const db = shared.db;
  shared.db = undefined;
  if (db === undefined) return;
  // The DETACH finishes after this returns (callers here cannot wait: a file watcher, a timer):
  // whoever opens the file next in this process awaits `closing` first. A failed DETACH is
  // dropped: the handle is gone either way, and the next open of the file says what is wrong.
  const closing = db.close().catch(() => undefined);
  shared.closing = closing;
  void closing.then(() => {
    if (shared.closing === closing) shared.closing = undefined;
  });
}

/** Closes the handle if no search runs on it; true when it is closed (or was). */
function closeIfIdle(shared: SharedRead, forWriter: boolean): boolean {
  if (shared.db === undefined) return true;
  if (shared.refs > 0) return false;
  if (forWriter) counters.reader.closedForWriter++;
  closeShared(shared);
  return true;
}

function startWaiting(shared: SharedRead): void {
  if (shared.waiting++ === 0) {
    try {
      writeFileSync(join(shared.dir, `${READ_WAIT_PREFIX}${process.pid}`), `${Date.now()}\n`);
    } catch {
      // Advisory only.
    }
  }
}

function stopWaiting(shared: SharedRead): void {
  if (--shared.waiting === 0) rmSync(join(shared.dir, `${READ_WAIT_PREFIX}${process.pid}`), { force: true });
}

/**
 * A reference to this process's READ_ONLY handle on the index, opened if needed. Defers to a live
 * write intent (an idle handle is closed for it), retries lock conflicts, all within
 * `lockBoundMs`. Release it with `releaseRead`.
 */
async function leaseRead(
  context: StrategyContext,
  limits: HandoffLimits,
): Promise<SharedRead & { db: Database }> {
  const dir = handoffDir(context.workDir);
  const shared = sharedFor(context.dbPath, dir, limits);
  const started = performance.now();
  let attempt = 0;
  let attempts = 0;
  let waiting = false;
  let hadToWait = false;
  let last: unknown;
  try {
    for (;;) {
      const elapsed = performance.now() - started;
      const writer = localWriters.has(shared.key) ? process.pid : liveIntent(dir, limits);
      if (writer !== undefined) {
        // A writer asked: start no new hold, let the searches in flight drain.
        closeIfIdle(shared, true);
        if (!waiting) {
          waiting = true;
          hadToWait = true;
          counters.reader.yields++;
          startWaiting(shared);
        }
        if (elapsed >= limits.lockBoundMs) {
          throw timeoutError(
            'reader',
            context.dbPath,
            'READ_ONLY',
            limits,
            attempts,
            last,
            `the owner, process ${writer}, announced a write and`,
          );
        }
        await sleep(backoffDelay(limits, attempt++));
        continue;
      }
      if (shared.db !== undefined) break;
      attempts++;
      shared.opening ??= openShared(shared).finally(() => {
        shared.opening = undefined;
      });
      try {
        await shared.opening;
        if (shared.db !== undefined) break;
      } catch (error) {
        if (lockConflict(error) === undefined) throw error;
        counters.reader.conflicts++;
        noteLockConflict();
        hadToWait = true;
        last = error;
        if (performance.now() - started >= limits.lockBoundMs) {
          throw timeoutError('reader', context.dbPath, 'READ_ONLY', limits, attempts, last, holderText(last));
        }
        await sleep(backoffDelay(limits, attempt++));
      }
    }
  } catch (error) {
    counters.reader.timeouts += error instanceof EmbecodeError && error.kind === 'locked' ? 1 : 0;
    throw error;
  } finally {
    if (waiting) stopWaiting(shared);
  }
  shared.refs++;
  if (shared.linger !== undefined) clearTimeout(shared.linger);
  shared.linger = undefined;
  recordWait(counters.reader, performance.now() - started, hadToWait);
  return shared as SharedRead & { db: Database };
}

async function openShared(shared: SharedRead): Promise<void> {
  await shared.closing;
  // On the process's shared instance (ATTACH READ_ONLY): a reader opens at every turn it gets,
  // and a fresh DuckDB instance per open cost ~15 ms of CPU against ~2 ms.
  const db = await Database.open(shared.path, { mode: 'reader', openVia: 'attach' });
  counters.reader.opens++;
  shared.db = db;
  try {
    mkdirSync(shared.dir, { recursive: true });
    const watcher = watch(shared.dir, (_event, name) => {
      // Also fires when the intent goes away: close only for a live one.
      if (name === WRITE_INTENT && liveIntent(shared.dir, shared.limits) !== undefined) {
        closeIfIdle(shared, true);
      }
    });
    watcher.on('error', () => undefined);
    watcher.unref();
    shared.watcher = watcher;
  } catch {
    // Without a watcher the linger timeout still lets go of the file.
  }
}

function releaseRead(shared: SharedRead, limits: HandoffLimits): void {
  shared.refs--;
  if (shared.refs > 0 || shared.db === undefined) return;
  const writer = localWriters.has(shared.key) || liveIntent(shared.dir, limits) !== undefined;
  if (writer || limits.lingerMs <= 0) {
    closeIfIdle(shared, writer);
    return;
  }
  shared.linger = setTimeout(() => closeIfIdle(shared, false), limits.lingerMs);
  shared.linger.unref();
}

// ---------------------------------------------------------------------------------------------
// The two sides

/** Holds the owner role; opens the index read-write for each write and closes it right after. */
export class HandoffOwner implements OwnerSide {
  private owning = false;
  private dimensions: number;
  private readonly dir: string;

  constructor(
    private readonly context: StrategyContext,
    private readonly limits: HandoffLimits = HANDOFF_LIMITS,
  ) {
    this.dimensions = context.embedder.dimensions;
    this.dir = handoffDir(context.workDir);
  }

  /** Whether this process is the owner; it holds the OS lock only while a write runs. */
  get holding(): boolean {
    return this.owning;
  }

  /** Opens read-write once (creating the index, replaying a crashed owner's WAL) and closes it. */
  async acquire(): Promise<void> {
    if (this.owning) return;
    mkdirSync(this.dir, { recursive: true });
    await this.withWriteLock(async (db) => {
      this.dimensions = db.dimensions;
    });
    this.owning = true;
  }

  async release(): Promise<void> {
    this.owning = false;
  }

  write(files: readonly PreparedFile[]): Promise<void> {
    this.requireOwner();
    return this.withWriteLock((db) => db.upsertFiles(files));
  }

  delete(paths: readonly string[]): Promise<void> {
    this.requireOwner();
    return this.withWriteLock((db) => db.deleteFiles(paths));
  }

  /** Nothing to do: every write ends with a clean close, which checkpoints. */
  async checkpoint(): Promise<void> {
    this.requireOwner();
  }

  /** Reads through a READ_ONLY lease like a reader: it coexists with readers. */
  async stats(): Promise<IndexStats> {
    this.requireOwner();
    const lease = await leaseRead(this.context, this.limits);
    try {
      return await lease.db.stats();
    } finally {
      releaseRead(lease, this.limits);
    }
  }

  async close(): Promise<void> {
    await this.release();
  }

  private requireOwner(): void {
    if (!this.owning) {
      throw new Error(`owner ${process.pid} has released ${this.context.dbPath}; acquire it first`);
    }
  }

  /**
   * Defers to waiting readers (bounded), announces the write, opens read-write (retrying
   * conflicts with backoff and jitter until `lockBoundMs`), runs `body`, closes, withdraws the
   * announcement.
   */
  private async withWriteLock<T>(body: (db: Database) => Promise<T>): Promise<T> {
    const started = performance.now();
    const key = resolve(this.context.dbPath);
    let attempt = 0;
    let hadToWait = false;
    while (waitingReaders(this.dir).length > 0 && performance.now() - started < this.limits.ownerYieldMs) {
      if (!hadToWait) counters.owner.yields++;
      hadToWait = true;
      await sleep(backoffDelay(this.limits, attempt++));
    }
    const lockStarted = performance.now();
    this.announce();
    localWriters.add(key);
    try {
      let db: Database | undefined;
      let attempts = 0;
      let last: unknown;
      attempt = 0;
      while (db === undefined) {
        const local = sharedReads.get(key);
        const localBusy = local !== undefined && !closeIfIdle(local, true);
        if (!localBusy) {
          // This process's own reader must have let go first: one instance attaches a file once.
          await local?.closing;
          attempts++;
          try {
            db = await Database.open(this.context.dbPath, {
              mode: 'owner',
              dimensions: this.dimensions,
              embedder: this.context.embedder.name,
            });
            break;
          } catch (error) {
            if (lockConflict(error) === undefined) throw error;
            counters.owner.conflicts++;
            noteLockConflict();
            last = error;
          }
        }
        hadToWait = true;
        if (performance.now() - lockStarted >= this.limits.lockBoundMs) {
          counters.owner.timeouts++;
          throw timeoutError(
            'owner',
            this.context.dbPath,
            'read-write',
            this.limits,
            attempts,
            last,
            localBusy ? `a search in this process (${process.pid})` : holderText(last),
          );
        }
        await sleep(backoffDelay(this.limits, attempt++));
      }
      recordWait(counters.owner, performance.now() - started, hadToWait);
      try {
        return await body(db);
      } finally {
        await db.close();
      }
    } finally {
      localWriters.delete(key);
      rmSync(join(this.dir, WRITE_INTENT), { force: true });
      this.saveStats();
    }
  }

  /** Writes the intent under a temporary name and renames it: readers see all of it or nothing. */
  private announce(): void {
    const temp = join(this.dir, `${WRITE_INTENT}.${process.pid}.tmp`);
    writeFileSync(temp, `${process.pid} ${Date.now()}\n`);
    renameSync(temp, join(this.dir, WRITE_INTENT));
  }

  /** The owner's counters, for the tester process to read (the owner runs in a child). */
  private saveStats(): void {
    try {
      writeFileSync(
        join(this.dir, `${OWNER_STATS_PREFIX}${process.pid}.json`),
        JSON.stringify(counters.owner),
      );
    } catch {
      // Diagnostics only.
    }
  }
}

/** Searches with a READ_ONLY handle held only while searches run (and briefly after, unless a writer asks). */
export class HandoffReader implements ReaderSide {
  private opened = false;

  constructor(
    private readonly context: StrategyContext,
    private readonly limits: HandoffLimits = HANDOFF_LIMITS,
  ) {}

  get isOpen(): boolean {
    return this.opened;
  }

  /** Checks that the index can be opened (and warms the handle); holds nothing afterwards for long. */
  async open(): Promise<void> {
    if (this.opened) return;
    mkdirSync(handoffDir(this.context.workDir), { recursive: true });
    const lease = await leaseRead(this.context, this.limits);
    releaseRead(lease, this.limits);
    this.opened = true;
  }

  async close(): Promise<void> {
    this.opened = false;
    const shared = sharedReads.get(resolve(this.context.dbPath));
    if (shared !== undefined && closeIfIdle(shared, false)) await shared.closing;
  }

  async search(query: string, options: SearchOptions): Promise<SearchResult[]> {
    if (!this.opened) {
      throw new Error(`reader ${process.pid} has not opened ${this.context.dbPath}; open it first`);
    }
    const lease = await leaseRead(this.context, this.limits);
    try {
      return await new Searcher(lease.db, this.context.embedder).search(query, options);
    } finally {
      releaseRead(lease, this.limits);
    }
  }
}
