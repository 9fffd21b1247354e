import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { currentOwner } from '../election/election.js';
import { EmbecodeError } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
import { IpcClient } from '../ipc/client.js';
import { formatDuration, IpcUnavailableError, isRetryableIpcError } from '../ipc/errors.js';
import { checkPrivateDir } from '../ipc/socket-dir.js';
import { pidAlive } from '../process/pid-alive.js';
import { ownerSocketPath, pidOfServeSocket, projectStateDir, serveSocketDir } from './paths.js';

/**
 * The client side of serve, for one-shot commands (`embecode search`, `embecode status`): who owns
 * a project's index, how to reach it, and which serve processes run on it. Nothing here takes the
 * election lock or writes anything: ownership is read from the kernel's lock table (`currentOwner`).
 */

export interface OwnerView {
  /** The election lock holder right now, or undefined: nobody owns the index. */
  readonly pid: number | undefined;
  /** The owner's record (`owner.json`) checked against the lock holder. */
  readonly record: 'current' | 'stale' | 'missing' | 'corrupt';
  /** When the owner took the lease (ISO 8601), from a current record. */
  readonly since: string | undefined;
  /** Whether the owner has said it is serving (bound its socket), from a current record. */
  readonly ready: boolean;
  /** Where the owner listens. */
  readonly socket: string;
  readonly stateDir: string;
}

/** Who owns the index at `dbPath` now. */
export async function projectOwner(dbPath: string): Promise<OwnerView> {
  const stateDir = projectStateDir(dbPath);
  const owner = await currentOwner(stateDir);
  const record = owner.record;
  const current = record.state === 'current' ? record.record : undefined;
  return {
    pid: owner.pid,
    record: record.state,
    since: current?.acquiredAt,
    ready: current?.info.ready === true,
    socket: ownerSocketPath(stateDir),
    stateDir,
  };
}

export interface Routed<T> {
  readonly value: T;
  /** `owner`: answered by the owner through its socket; `direct`: the index was opened read-only here. */
  readonly via: 'owner' | 'direct';
  readonly owner: OwnerView;
}

export interface RouteOptions {
  /** How long to keep retrying an owner that exists but does not answer yet (default 10 s). */
  readonly waitMs?: number;
}

const DEFAULT_WAIT_MS = 10_000;

/**
 * Runs a one-shot read through the project's owner when one is alive (its lock would refuse a
 * direct open), and directly otherwise. An owner that is still starting, or dying and being
 * replaced, is retried with backoff for up to `waitMs`. A direct open that meets a lock conflict
 * goes through the owner if one appeared meanwhile; with no owner in the election (an
 * `embecode index` run holds the file, say) the conflict is reported at once, as before serve.
 */
export async function throughOwnerOrDirect<T>(
  dbPath: string,
  ways: { viaOwner: (client: IpcClient) => Promise<T>; direct: () => Promise<T> },
  options: RouteOptions = {},
): Promise<Routed<T>> {
  const waitMs = options.waitMs ?? DEFAULT_WAIT_MS;
  const deadline = performance.now() + waitMs;
  let lastError: unknown;
  for (let attempt = 0; ; attempt++) {
    const owner = await projectOwner(dbPath);
    if (owner.pid !== undefined) {
      const client = new IpcClient(owner.socket, { connectTimeoutMs: 2_000 });
      try {
        const value = await ways.viaOwner(client);
        return { value, via: 'owner', owner: { ...owner, pid: client.serverPid ?? owner.pid } };
      } catch (error) {
        if (!isRetryableIpcError(error)) throw error;
        lastError = error;
      } finally {
        await client.close();
      }
    } else {
      try {
        return { value: await ways.direct(), via: 'direct', owner };
      } catch (error) {
        const locked = error instanceof EmbecodeError && error.kind === 'locked';
        if (!locked || (await projectOwner(dbPath)).pid === undefined) throw error;
        lastError = error;
      }
    }
    if (performance.now() >= deadline) {
      if (owner.pid !== undefined && pidAlive(owner.pid) && isRetryableIpcError(lastError)) {
        throw new OwnerNotAnsweringError(dbPath, { ...owner, pid: owner.pid }, waitMs, lastError);
      }
      throw new EmbecodeError(
        'io',
        `the owner of ${dbPath}${owner.pid === undefined ? '' : ` (process ${owner.pid})`} did not answer within ${formatDuration(waitMs)}: ${withoutRetry(lastError)}; retry`,
        { cause: lastError },
      );
    }
    await sleep(Math.min(25 * 2 ** attempt, 500));
  }
}

/**
 * The owner holds the election lock, so it is alive, but it did not answer within the wait: it is
 * stopped (SIGSTOP, a debugger), hung or overloaded. Not "shutting down" and not "no owner": the
 * process is there, and restarting it is what helps if retrying does not.
 */
export class OwnerNotAnsweringError extends IpcUnavailableError {
  readonly ownerPid: number;

  constructor(
    dbPath: string,
    readonly owner: OwnerView & { readonly pid: number },
    waitMs: number,
    cause: unknown,
  ) {
    const starting = owner.record === 'current' && !owner.ready ? '; it has not said it is ready yet' : '';
    super(
      'timeout',
      `the owner of ${dbPath} (process ${owner.pid}) is alive but not answering: no answer within ${formatDuration(waitMs)}${starting} (${withoutRetry(cause)}); it may be stopped, hung or overloaded: retry, or restart process ${owner.pid}`,
      { cause },
    );
    this.name = 'OwnerNotAnsweringError';
    this.ownerPid = owner.pid;
  }
}

/** An error's message without its own trailing "; retry", for messages that say it once themselves. */
function withoutRetry(error: unknown): string {
  return messageOf(error).replace(/;\s*retry\.?$/, '');
}

export interface ServeProcessView {
  readonly pid: number;
  /** `owner`, `reader`, `promoting`, `starting`, `stopping`; `unreachable` when it did not answer. */
  readonly role: string;
  readonly ownerPid: number | null;
  /** For a reader: whether it reached the owner just now (false: the owner did not answer it). */
  readonly ownerReachable: boolean | null;
  readonly since: string | null;
  readonly socket: string;
}

/**
 * The serve processes running on the index at `dbPath`, each asked for its status on its own
 * socket (`serve/<pid>.sock`), sorted by PID. Socket files of dead processes, and sockets nobody
 * listens on (a SIGKILLed process not yet reaped by its parent), are skipped; one that does not
 * answer in time is listed as `unreachable`.
 */
export async function listServeProcesses(dbPath: string, timeoutMs = 2_000): Promise<ServeProcessView[]> {
  const dir = serveSocketDir(projectStateDir(dbPath));
  if (checkPrivateDir(dir) === 'missing') return [];
  const pids = (await readdir(dir))
    .map((name) => pidOfServeSocket(name))
    .filter((pid): pid is number => pid !== undefined && pidAlive(pid))
    .sort((a, b) => a - b);
  const views = await Promise.all(
    pids.map(async (pid): Promise<ServeProcessView | undefined> => {
      const socket = join(dir, `${pid}.sock`);
      const client = new IpcClient(socket, { connectTimeoutMs: timeoutMs });
      try {
        const status = await client.status(timeoutMs);
        return {
          pid,
          role: typeof status.role === 'string' ? status.role : 'unknown',
          ownerPid: typeof status.ownerPid === 'number' ? status.ownerPid : null,
          ownerReachable: typeof status.ownerReachable === 'boolean' ? status.ownerReachable : null,
          since: typeof status.since === 'string' ? status.since : null,
          socket,
        };
      } catch (error) {
        const gone =
          error instanceof IpcUnavailableError &&
          (error.reason === 'refused' || error.reason === 'no-socket');
        return gone
          ? undefined
          : { pid, role: 'unreachable', ownerPid: null, ownerReachable: null, since: null, socket };
      } finally {
        await client.close();
      }
    }),
  );
  return views.filter((view): view is ServeProcessView => view !== undefined);
}
