import { existsSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  currentOwner,
  type OwnerLease,
  type TakeoverWatch,
  tryBecomeOwner,
  watchForTakeover,
} from '../election/election.js';
import { procWriteLockHolders } from '../election/proc-locks.js';
import { ensureStateDir } from '../election/state-dir.js';
import { EmbecodeError } from '../errors.js';
import { Database } from '../index/database.js';
import { messageOf } from '../index/duckdb-errors.js';
import { createDefaultEmbedder, type Embedder, embedderForIndex } from '../index/embedder.js';
import { prepareDbLocation } from '../index/index-location.js';
import { type IndexReport, indexProject } from '../index/indexer.js';
import { Searcher } from '../index/search.js';
import type { IndexStats, SearchResult } from '../index/types.js';
import { formatDuration, IpcUnavailableError, isRetryableIpcError } from '../ipc/errors.js';
import type { IpcCatchUp, IpcStatus, SearchParams } from '../ipc/messages.js';
import { IpcServer } from '../ipc/server.js';
import { pidAlive } from '../process/pid-alive.js';
import {
  ownerSocketPath,
  pidOfServeSocket,
  projectStateDir,
  serveSocketDir,
  serveSocketPath,
} from './paths.js';
import type { OwnerEndpoint, OwnerLink, ServeTransport } from './transport.js';

/**
 * `embecode serve`: one long-running process per tool on a project. The first becomes the OWNER
 * (election lease, index open read-write, catch-up indexing, searches answered from its own
 * connection); later ones become READERS (searches forwarded to the owner through the strategy's
 * transport; a takeover watch running the whole time). When the owner dies, even by SIGKILL, the
 * election lets exactly one reader take the lease, and that reader promotes itself: it opens the
 * index read-write, starts serving, and catches up on files changed meanwhile.
 *
 * Every serve process, whatever its role, answers `search` and `status` on its own socket,
 * `<state dir>/serve/<pid>.sock`: a reader forwards searches to the owner, so both roles give the
 * same results for committed data (the owner's connection answers both). The owner also listens
 * on `<state dir>/owner.sock`, which `embecode search` and `embecode status` use.
 *
 * Order of things, which the election's one-owner guarantee relies on:
 * - owner start: lease, open the index (waiting, bounded, for a previous holder to let go), load the
 *   vector cache, bind the owner socket (a stale one is replaced only here, under the lease),
 *   publish the socket in `owner.json`, then index.
 * - owner stop: stop serving (requests in flight finish), stop indexing, checkpoint and close the
 *   index, and only then release the lease, so a successor never finds the index still held.
 */

export type ServeRole = 'starting' | 'reader' | 'promoting' | 'owner' | 'stopping' | 'stopped';

/** Why a catch-up ran: `request` is a client's `catch-up` (`embecode index`, the stress tester). */
export type IndexReason = 'start' | 'takeover' | 'interval' | 'request';

export type ServeEvent =
  | {
      readonly event: 'role';
      readonly role: 'owner' | 'reader';
      readonly pid: number;
      /** The owner's PID: this process when owner; as reader, the lock holder when known. */
      readonly ownerPid: number | null;
      /** True when a reader became owner because the previous owner went away. */
      readonly takeover: boolean;
      /** For a takeover: the owner this process last knew of. */
      readonly previousOwnerPid: number | null;
      readonly socket: string;
      readonly ownerSocket: string;
      readonly db: string;
      readonly dir: string;
      readonly strategy: string;
      readonly at: number;
    }
  | ({
      readonly event: 'indexed';
      readonly pid: number;
      readonly reason: IndexReason;
      readonly files: number;
      readonly totalChunks: number;
      readonly at: number;
    } & Omit<IndexReport, 'elapsedMs'> & { readonly elapsedMs: number })
  | {
      readonly event: 'index-failed';
      readonly pid: number;
      readonly reason: IndexReason;
      readonly error: string;
      readonly at: number;
    }
  | { readonly event: 'stopped'; readonly pid: number; readonly why: string; readonly at: number };

export interface ServeOptions {
  /** The project directory (indexed by the owner). */
  readonly dir: string;
  readonly dbPath: string;
  readonly transport: ServeTransport;
  /** As owner, catch up with the project every this many ms; 0 or undefined: only at start and takeover. */
  readonly reindexEveryMs?: number;
  /** How often a reader looks for a dead owner (default 50 ms). */
  readonly watchIntervalMs?: number;
  /** How long a new owner waits for another process to let go of the index file (default 30 s). */
  readonly openTimeoutMs?: number;
  /** How long a reader keeps retrying a search while there is no owner to forward it to (default 10 s). */
  readonly forwardWaitMs?: number;
  readonly onEvent?: (event: ServeEvent) => void;
  /** Warnings, one line each. */
  readonly log?: (line: string) => void;
}

export interface ServeOutcome {
  /** Why it stopped: a signal name, `stop()`'s reason, or `error`. */
  readonly why: string;
  /** The fatal error, if it stopped because of one. */
  readonly error?: unknown;
}

const DEFAULT_OPEN_TIMEOUT_MS = 30_000;
const DEFAULT_FORWARD_WAIT_MS = 10_000;
const WATCH_INTERVAL_MS = 50;
const CLOSE_GRACE_MS = 2_000;
/**
 * How long a reader's status waits for the owner's. Below the 2 s `embecode status` gives each
 * process: a reader whose owner is frozen must still answer in time, saying so (`ownerReachable`).
 */
const OWNER_STATUS_TIMEOUT_MS = 1_000;

type IndexOutcome = Extract<ServeEvent, { event: 'indexed' | 'index-failed' }>;

/** Thrown from the indexer's progress callback to stop a catch-up when serve stops. */
class IndexAborted extends Error {}

/** Epoch ms with sub-ms precision, as the election candidates stamp their lines. */
const nowMs = (): number => performance.timeOrigin + performance.now();

export class ServeProcess {
  private currentRole: ServeRole = 'starting';
  private roleWaiters: (() => void)[] = [];
  private roleSince = new Date().toISOString();
  private stateDir: string | undefined;
  private ownServer: IpcServer | undefined;
  private knownOwnerPid: number | undefined;
  // Owner side.
  private lease: OwnerLease | undefined;
  private db: Database | undefined;
  private searcher: Searcher | undefined;
  private embedder: Embedder | undefined;
  private endpoint: OwnerEndpoint | undefined;
  private indexing: Promise<IndexOutcome | undefined> | undefined;
  private reindexTimer: NodeJS.Timeout | undefined;
  private lastIndex: ServeEvent | undefined;
  private saidNoProcLocks = false;
  /** Set when the index's lock was found gone: nothing more may be written to the file. */
  private indexLockLost = false;
  /** Protected files already named in the log: a catch-up every few seconds would repeat them. */
  private readonly toldProtected = new Set<string>();
  // Reader side.
  private watch: TakeoverWatch | undefined;
  private link: OwnerLink | undefined;
  private promotion: Promise<void> | undefined;
  // Lifecycle.
  private beginning: Promise<void> | undefined;
  private stopping: Promise<void> | undefined;
  private stopWhy = 'stopped';
  private announced = false;
  private fatal: unknown;
  private resolveFinished!: (outcome: ServeOutcome) => void;
  /** Settles once everything this process opened is closed and the lease (if any) released. */
  readonly finished: Promise<ServeOutcome>;

  constructor(private readonly options: ServeOptions) {
    this.finished = new Promise((resolve) => {
      this.resolveFinished = resolve;
    });
  }

  get role(): ServeRole {
    return this.currentRole;
  }

  /** This process's own socket (valid once started). */
  get socketPath(): string {
    return serveSocketPath(this.dir());
  }

  /**
   * Elects, opens, binds and starts indexing; resolves once the process serves in its first role
   * (or at once if `stop()` was called meanwhile). On failure everything opened is closed again and
   * the error is rethrown (and `finished` settles with it).
   */
  async start(): Promise<void> {
    this.beginning ??= this.begin();
    try {
      await this.beginning;
    } catch (error) {
      if (this.stopping !== undefined) return; // stopped while starting: not a failure
      this.fatal = error;
      await this.stop('error');
      throw error;
    }
  }

  /** Stops serving in whatever role, closes everything, releases the lease. Safe to call twice. */
  stop(why = 'stopped'): Promise<void> {
    if (this.stopping === undefined) {
      this.stopWhy = why;
      this.stopping = this.shutdown();
    }
    return this.stopping;
  }

  private async begin(): Promise<void> {
    const { dbPath } = this.options;
    await prepareDbLocation(dbPath);
    const stateDir = await ensureStateDir(projectStateDir(dbPath));
    this.stateDir = stateDir;
    await hideFromProjectWalks(stateDir);
    this.ownServer = await IpcServer.listen(
      serveSocketPath(stateDir),
      {
        search: (params, signal) => this.search(params, signal),
        status: () => this.status(),
        catchUp: (signal) => this.catchUpRequest(signal),
      },
      { closeGraceMs: CLOSE_GRACE_MS },
    );
    this.checkStopping();
    const elected = await tryBecomeOwner(stateDir, { info: this.baseInfo() });
    if (elected.role === 'owner') {
      this.lease = elected;
      await this.becomeOwner(elected);
      this.announce(false, undefined);
      void this.startIndexing('start'); // never rejects: indexOnce turns failures into events
    } else {
      const ownerPid = elected.ownerPid ?? (await this.lockHolder());
      this.checkStopping();
      this.becomeReader(ownerPid);
    }
  }

  private checkStopping(): void {
    if (this.stopping !== undefined) {
      throw new EmbecodeError('usage', `serve ${process.pid} was stopped while starting`);
    }
  }

  private dir(): string {
    if (this.stateDir === undefined) throw new Error('serve: not started');
    return this.stateDir;
  }

  private baseInfo(): Record<string, unknown> {
    return {
      kind: 'embecode serve',
      strategy: this.options.transport.name,
      dir: this.options.dir,
      db: this.options.dbPath,
      ready: false,
    };
  }

  private setRole(role: ServeRole): void {
    this.currentRole = role;
    this.roleSince = new Date().toISOString();
    const waiting = this.roleWaiters;
    this.roleWaiters = [];
    for (const wake of waiting) wake();
  }

  /** Resolves at the next role change, or after `ms`, whichever comes first. */
  private roleChangeOr(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(timer);
        this.roleWaiters = this.roleWaiters.filter((w) => w !== done);
        resolve();
      };
      timer = setTimeout(done, Math.max(ms, 0));
      this.roleWaiters.push(done);
    });
  }

  private emit(event: ServeEvent): void {
    try {
      this.options.onEvent?.(event);
    } catch {
      // A broken listener (a closed stdout, say) must not take the process down.
    }
  }

  private announce(takeover: boolean, previousOwnerPid: number | undefined): void {
    this.announced = true;
    const role = this.currentRole === 'owner' ? 'owner' : 'reader';
    this.emit({
      event: 'role',
      role,
      pid: process.pid,
      ownerPid: (role === 'owner' ? process.pid : this.knownOwnerPid) ?? null,
      takeover,
      previousOwnerPid: previousOwnerPid ?? null,
      socket: this.socketPath,
      ownerSocket: ownerSocketPath(this.dir()),
      db: this.options.dbPath,
      dir: this.options.dir,
      strategy: this.options.transport.name,
      at: nowMs(),
    });
  }

  // ------------------------------------------------------------------------------------- owner

  /** Opens the index, starts serving it, publishes where. On failure the caller tears down. */
  private async becomeOwner(lease: OwnerLease): Promise<void> {
    const db = await this.openIndex();
    this.db = db;
    this.embedder = embedderForIndex(db);
    // Load the vector cache before anything can search or write: a vector search arriving while
    // the first write since open is in flight deadlocks the cache load behind that write (found by
    // the stress tester for IpcOwner; src/index/database.ts). Loaded here, nothing is in flight.
    await db.vectorCache();
    this.searcher = new Searcher(db, this.embedder);
    this.checkStopping();
    this.endpoint = await this.options.transport.serveOwner(this.dir(), {
      search: (params) => this.localSearch(params),
      status: () => this.status(),
      catchUp: () => this.localCatchUp(),
    });
    await lease.publish({
      ...this.baseInfo(),
      ...this.endpoint.published,
      serveSocket: this.socketPath,
      ready: true,
    });
    this.checkStopping();
    this.knownOwnerPid = process.pid;
    this.setRole('owner');
    const every = this.options.reindexEveryMs ?? 0;
    if (every > 0) this.reindexTimer = setInterval(() => this.startIndexing('interval'), every);
  }

  /**
   * Opens the index read-write. A lock conflict here means someone outside the election holds the
   * file (an `embecode index` run, a direct `embecode search`): wait for it with backoff, up to
   * `openTimeoutMs`.
   */
  private async openIndex(): Promise<Database> {
    const { dbPath } = this.options;
    const timeoutMs = this.options.openTimeoutMs ?? DEFAULT_OPEN_TIMEOUT_MS;
    const started = performance.now();
    const preferred = createDefaultEmbedder();
    let delay = 20;
    let told = false;
    for (;;) {
      const fresh = !existsSync(dbPath);
      try {
        return await Database.open(dbPath, {
          mode: 'owner',
          // Read in full before serving: a damaged index stops serve with exit 2 and the line that
          // says to run `embecode index --rebuild`, rather than failing searches one by one.
          verify: !fresh,
          embedder: preferred.name,
          ...(fresh ? { dimensions: preferred.dimensions } : {}),
        });
      } catch (error) {
        const locked = error instanceof EmbecodeError && error.kind === 'locked';
        if (!locked || this.stopping !== undefined) throw error;
        const waited = performance.now() - started;
        if (waited >= timeoutMs) {
          throw new EmbecodeError(
            'locked',
            `won the election for ${dbPath} but another process kept the index file locked for ${Math.round(waited / 1000)} s: ${messageOf(error)}`,
            { cause: error },
          );
        }
        if (!told) {
          told = true;
          this.options.log?.(`waiting for the index file: ${messageOf(error)}`);
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 500);
      }
    }
  }

  private localSearch(params: SearchParams, signal?: AbortSignal): Promise<SearchResult[]> {
    const searcher = this.searcher;
    if (searcher === undefined || this.stopping !== undefined) {
      return Promise.reject(
        new IpcUnavailableError(
          'shutting-down',
          `serve ${process.pid} no longer holds ${this.options.dbPath}`,
        ),
      );
    }
    const { query, ...options } = params;
    return searcher.search(query, options, signal);
  }

  /** Starts a catch-up unless one runs; returns the one started, or undefined. */
  private startIndexing(reason: IndexReason): Promise<IndexOutcome | undefined> | undefined {
    const { db, embedder } = this;
    if (this.indexing !== undefined || this.stopping !== undefined || db === undefined || !embedder)
      return undefined;
    const run = this.catchUp(db, embedder, reason).finally(() => {
      if (this.indexing === run) this.indexing = undefined;
    });
    this.indexing = run;
    return run;
  }

  /**
   * A client's `catch-up` to the owner: one catch-up that STARTS after the request came, so its
   * answer covers every file change made before the request was sent. One already running may have
   * walked past a change, so it is waited for first, never taken as the answer.
   */
  private async localCatchUp(): Promise<IpcCatchUp> {
    for (;;) {
      if (this.stopping !== undefined || this.currentRole !== 'owner') {
        throw new IpcUnavailableError(
          'shutting-down',
          `serve ${process.pid} is shutting down and did not catch up with ${this.options.dir}; ask the next owner`,
        );
      }
      const running = this.indexing;
      if (running !== undefined) {
        await running.catch(() => undefined);
        continue;
      }
      const run = this.startIndexing('request');
      if (run === undefined) continue;
      const outcome = await run;
      if (outcome === undefined || this.stopping !== undefined) {
        throw new IpcUnavailableError(
          'shutting-down',
          `serve ${process.pid} stopped before its catch-up of ${this.options.dir} finished; ask the next owner`,
        );
      }
      if (outcome.event === 'index-failed') {
        throw new EmbecodeError(
          'io',
          `serve ${process.pid} could not catch up with ${this.options.dir}: ${outcome.error}`,
        );
      }
      const { event: _event, reason: _reason, at: _at, ...summary } = outcome;
      return summary;
    }
  }

  private async catchUp(
    db: Database,
    embedder: Embedder,
    reason: IndexReason,
  ): Promise<IndexOutcome | undefined> {
    try {
      return await this.indexOnce(db, embedder, reason);
    } finally {
      await this.checkIndexLock(db);
      await this.checkLease();
    }
  }

  /**
   * The catch-up opens project files in this process, which holds the index read-write. The walker
   * refuses the index by identity, but should this process ever open and close it by some other name
   * (the POSIX pitfall again), its DuckDB lock is gone while the instance keeps writing: another
   * process could open the file read-write beside it and the two would overwrite each other. DuckDB
   * itself never notices, so ask the kernel, and stop rather than write on.
   */
  private async checkIndexLock(db: Database): Promise<void> {
    if (this.db !== db || this.stopping !== undefined) return;
    const path = db.path;
    let holders: number[] | undefined;
    try {
      holders = await procWriteLockHolders(path);
    } catch (error) {
      this.options.log?.(
        `cannot check that this process still holds the lock on ${path}: ${messageOf(error)}`,
      );
      return;
    }
    if (holders === undefined) {
      if (!this.saidNoProcLocks) {
        this.saidNoProcLocks = true;
        const files = this.lease === undefined ? path : `${path} and ${this.lease.lockPath}`;
        this.options.log?.(
          `cannot check after catch-ups that this process still holds its locks on ${files}: /proc/locks is not available here, so a lock lost to an open of either file by another name would go unnoticed`,
        );
      }
      return;
    }
    if (holders.includes(process.pid) || this.stopping !== undefined) return;
    const now = holders.length === 0 ? 'nobody holds it now' : `pid ${holders.join(', ')} holds it now`;
    this.indexLockLost = true;
    void this.fail(
      new EmbecodeError(
        'internal',
        `serve ${process.pid} lost its write lock on index ${path} (${now}; was the file opened and closed by this process under another name?); stopped writing to it: stop whatever else has it open, then start embecode serve again`,
      ),
    );
  }

  /**
   * The catch-up reads files of the project in this process, the lease holder. Should it ever open
   * the election lock file (see hideFromProjectWalks), closing it drops the lock while we still
   * serve, and another serve process would take over beside us: stop instead.
   */
  private async checkLease(): Promise<void> {
    const lease = this.lease;
    if (lease === undefined || this.stopping !== undefined) return;
    if ((await lease.check()) !== 'lost') return;
    void this.fail(
      new EmbecodeError(
        'internal',
        `serve ${process.pid} lost the election lock ${lease.lockPath} while owner (was the lock file opened by this process?); stopping so that another serve process can take over`,
      ),
    );
  }

  private async indexOnce(
    db: Database,
    embedder: Embedder,
    reason: IndexReason,
  ): Promise<IndexOutcome | undefined> {
    const abortIfStopping = () => {
      if (this.stopping !== undefined) throw new IndexAborted('serve is stopping');
    };
    await this.sweepServeSockets();
    try {
      const report = await indexProject(this.options.dir, db, embedder, {
        onProgress: abortIfStopping,
        onSkip: (path, why, detail) => {
          if (why === 'protected') {
            if (this.toldProtected.has(path)) return;
            this.toldProtected.add(path);
          }
          if (why === 'unreadable' || why === 'protected') this.options.log?.(`skipped ${path}: ${detail}`);
        },
        onWarning: (message) => this.options.log?.(message),
      });
      abortIfStopping();
      const stats = await db.stats();
      const event: ServeEvent = {
        event: 'indexed',
        pid: process.pid,
        reason,
        ...report,
        elapsedMs: Math.round(report.elapsedMs),
        files: stats.files,
        totalChunks: stats.chunks,
        at: nowMs(),
      };
      this.lastIndex = event;
      this.emit(event);
      return event;
    } catch (error) {
      if (error instanceof IndexAborted || this.stopping !== undefined) return undefined;
      const event: ServeEvent = {
        event: 'index-failed',
        pid: process.pid,
        reason,
        error: messageOf(error).split('\n')[0] ?? '',
        at: nowMs(),
      };
      // A project gone for a while fails every interval the same way: say it once, not every
      // few seconds, until something changes (a success, another error, a requested catch-up).
      const previous = this.lastIndex;
      const repeat =
        reason === 'interval' && previous?.event === 'index-failed' && previous.error === event.error;
      this.lastIndex = event;
      if (!repeat) this.emit(event);
      return event;
    }
  }

  /** Removes `serve/<pid>.sock` files of processes that are gone (SIGKILLed serve processes). */
  private async sweepServeSockets(): Promise<void> {
    const dir = serveSocketDir(this.dir());
    try {
      for (const name of await readdir(dir)) {
        const pid = pidOfServeSocket(name);
        if (pid !== undefined && pid !== process.pid && !pidAlive(pid))
          await rm(join(dir, name), { force: true });
      }
    } catch {
      // Leftover socket files are harmless: nobody answers on them and status skips dead PIDs.
    }
  }

  // ------------------------------------------------------------------------------------ reader

  private becomeReader(ownerPid: number | undefined): void {
    const stateDir = this.dir();
    this.knownOwnerPid = ownerPid;
    this.link = this.options.transport.linkToOwner(stateDir);
    this.setRole('reader');
    const watch = watchForTakeover(stateDir, {
      intervalMs: this.options.watchIntervalMs ?? WATCH_INTERVAL_MS,
      info: this.baseInfo(),
    });
    this.watch = watch;
    this.announce(false, undefined);
    this.promotion = watch.result.then(
      async (lease) => {
        if (lease === undefined) return;
        if (this.stopping !== undefined) {
          await lease.release();
          return;
        }
        this.lease = lease;
        await this.promote(lease);
      },
      (error: unknown) => {
        void this.fail(error);
      },
    );
  }

  private async promote(lease: OwnerLease): Promise<void> {
    const previous = this.link?.ownerPid ?? this.knownOwnerPid;
    this.setRole('promoting');
    try {
      await this.becomeOwner(lease);
    } catch (error) {
      if (this.stopping === undefined) void this.fail(error);
      return;
    }
    const link = this.link;
    this.link = undefined;
    await link?.close();
    if (this.stopping !== undefined) return;
    this.announce(true, previous);
    void this.startIndexing('takeover'); // never rejects: indexOnce turns failures into events
  }

  /**
   * A search on this process's own socket. The owner answers from its index; a reader forwards to
   * the owner and, while there is none (it died; a takeover is under way), retries until one
   * answers, possibly itself after promotion, for up to `forwardWaitMs`.
   */
  private search(params: SearchParams, signal?: AbortSignal): Promise<SearchResult[]> {
    const { query, ...options } = params;
    return this.forward(
      () => this.localSearch(params, signal),
      (link, timeoutMs) => link.search(query, options, timeoutMs),
      signal,
    );
  }

  /** A `catch-up` on this process's own socket: the owner runs it; a reader forwards it to the owner. */
  private catchUpRequest(signal?: AbortSignal): Promise<IpcCatchUp> {
    return this.forward(
      () => this.localCatchUp(),
      (link, timeoutMs) => link.catchUp(timeoutMs),
      signal,
    );
  }

  /**
   * Runs a request here as owner, or forwards it to the owner as reader, retrying over a takeover
   * until `signal` says the caller gave up.
   */
  private async forward<T>(
    local: () => Promise<T>,
    remote: (link: OwnerLink, timeoutMs: number) => Promise<T>,
    signal?: AbortSignal,
  ): Promise<T> {
    const waitMs = this.options.forwardWaitMs ?? DEFAULT_FORWARD_WAIT_MS;
    const deadline = performance.now() + waitMs;
    let lastError: unknown;
    for (let attempt = 0; ; attempt++) {
      if (this.stopping !== undefined) {
        throw new IpcUnavailableError('shutting-down', `serve ${process.pid} is stopping`);
      }
      // The caller gave up (its deadline passed, it left): stop asking on its behalf.
      signal?.throwIfAborted();
      const remaining = deadline - performance.now();
      if (this.currentRole === 'owner') return local();
      const link = this.link;
      if (this.currentRole === 'reader' && link !== undefined) {
        try {
          const results = await remote(link, Math.max(remaining, 1_000));
          this.knownOwnerPid = link.ownerPid ?? this.knownOwnerPid;
          return results;
        } catch (error) {
          // A link closed under us by a promotion is no failure: this process answers now.
          if (!isRetryableIpcError(error) && this.link === link) throw error;
          lastError = error;
        }
      }
      if (performance.now() >= deadline) throw this.noAnswer(waitMs, lastError);
      // A promotion under way ends in a role change: answer as soon as this process serves.
      const pause =
        this.currentRole === 'reader' ? Math.min(10 * 2 ** attempt, 50) : deadline - performance.now();
      await this.roleChangeOr(pause);
    }
  }

  /**
   * Why a forwarded search got no answer in time. An owner that is alive but does not answer
   * (stopped with SIGSTOP, hung, overloaded) is a `timeout` and says so: "found no owner" would send
   * the user looking for a process that is there.
   */
  private noAnswer(waitMs: number, lastError: unknown): IpcUnavailableError {
    const within = formatDuration(waitMs);
    const cause = lastError === undefined ? '' : messageOf(lastError).replace(/; retry$/, '');
    const reason = lastError instanceof IpcUnavailableError ? lastError.reason : 'timeout';
    const owner = this.link?.ownerPid ?? this.knownOwnerPid;
    const ownerAlive = owner !== undefined && pidAlive(owner);
    if (ownerAlive && (reason === 'timeout' || reason === 'busy')) {
      return new IpcUnavailableError(
        reason,
        `serve ${process.pid}: the owner of ${this.options.dbPath} (process ${owner}) is alive but ${reason === 'busy' ? 'too busy to answer' : 'not answering'} within ${within} (it may be stopped, hung or overloaded): ${cause}; retry, or restart process ${owner}`,
        { cause: lastError },
      );
    }
    return new IpcUnavailableError(
      reason,
      `serve ${process.pid} found no owner of ${this.options.dbPath} to answer within ${within}${cause === '' ? '' : ` (${cause})`}; retry`,
      { cause: lastError },
    );
  }

  /**
   * The election lock holder, for the first role line. Only called before the takeover watch
   * starts: where there is no /proc/locks, `currentOwner` probes the lock file, which must never
   * overlap this process's own election attempts.
   */
  private async lockHolder(): Promise<number | undefined> {
    try {
      return (await currentOwner(this.dir())).pid;
    } catch {
      return undefined;
    }
  }

  // ------------------------------------------------------------------------------------ status

  private async status(): Promise<IpcStatus> {
    const role = this.currentRole;
    let stats: Partial<IndexStats> = {};
    let ownerReachable = true;
    if (role === 'owner' && this.db !== undefined) {
      stats = await this.db.stats();
    } else if (this.link !== undefined) {
      try {
        const owner = await this.link.status(OWNER_STATUS_TIMEOUT_MS);
        this.knownOwnerPid = owner.pid;
        stats = owner as Partial<IndexStats>;
      } catch {
        ownerReachable = false;
      }
    }
    return {
      pid: process.pid,
      db: this.options.dbPath,
      holding: role === 'owner',
      files: stats.files ?? 0,
      chunks: stats.chunks ?? 0,
      postings: stats.postings ?? null,
      dimensions: stats.dimensions ?? null,
      embedder: stats.embedder ?? null,
      role,
      since: this.roleSince,
      ownerPid: (role === 'owner' ? process.pid : this.knownOwnerPid) ?? null,
      ownerReachable,
      strategy: this.options.transport.name,
      dir: this.options.dir,
      socket: this.socketPath,
      ownerSocket: ownerSocketPath(this.dir()),
      indexing: this.indexing !== undefined,
      lastIndex: this.lastIndex ?? null,
      lease: this.lease === undefined ? null : await this.lease.check(),
    };
  }

  // ------------------------------------------------------------------------------- shutting down

  private async fail(error: unknown): Promise<void> {
    if (this.stopping !== undefined) return;
    this.fatal = error;
    await this.stop('error');
  }

  private async shutdown(): Promise<void> {
    this.setRole('stopping');
    clearInterval(this.reindexTimer);
    this.reindexTimer = undefined;
    this.watch?.stop();
    // Whatever start-up or takeover is under way notices `stopping`, gives up at its next step, and
    // leaves what it opened for the teardown below.
    await this.beginning?.catch(() => undefined);
    await this.promotion?.catch(() => undefined);
    const problems: unknown[] = [];
    const attempt = async (step: () => Promise<void> | void) => {
      try {
        await step();
      } catch (error) {
        problems.push(error);
      }
    };
    // Stop serving first: requests in flight finish on an open index.
    await Promise.all([attempt(() => this.ownServer?.close()), attempt(() => this.endpoint?.close())]);
    this.ownServer = undefined;
    this.endpoint = undefined;
    this.searcher = undefined;
    await attempt(async () => {
      await this.indexing;
    });
    const db = this.db;
    this.db = undefined;
    if (db !== undefined) {
      // Queued behind any write still in flight, so close() finds the write queue empty. Not once
      // the lock is gone: another process may have the file open now.
      if (!this.indexLockLost) await attempt(() => db.checkpoint());
      await attempt(() => db.close());
    }
    // Only now may a successor take over: the index file is closed.
    await attempt(() => this.lease?.release());
    this.lease = undefined;
    await attempt(() => this.link?.close());
    this.link = undefined;
    this.setRole('stopped');
    if (this.fatal === undefined && problems.length > 0) this.fatal = problems[0];
    // A process that never served says nothing more: its start-up error is the one line to read.
    if (this.announced) this.emit({ event: 'stopped', pid: process.pid, why: this.stopWhy, at: nowMs() });
    this.resolveFinished(
      this.fatal === undefined ? { why: this.stopWhy } : { why: this.stopWhy, error: this.fatal },
    );
  }
}

/**
 * Writes `<state dir>/.gitignore` (`*`) if missing. The indexer honours nested .gitignore files, and
 * an index kept inside the project (`--db` under DIR) puts its state directory in the owner's walk:
 * reading `owner.lock.db` there, in the lease holder's own process, closes a descriptor of the lock
 * file and silently drops the election lock (the POSIX pitfall, src/election/election.ts). It also
 * keeps git from listing the sockets and the record.
 */
async function hideFromProjectWalks(stateDir: string): Promise<void> {
  try {
    await writeFile(
      join(stateDir, '.gitignore'),
      '# embecode serve state: not to be indexed or committed\n*\n',
      {
        flag: 'wx',
        mode: 0o600,
      },
    );
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return;
    throw new EmbecodeError('io', `cannot write ${join(stateDir, '.gitignore')}: ${messageOf(error)}`, {
      cause: error,
    });
  }
}
