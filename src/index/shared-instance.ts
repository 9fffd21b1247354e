import { DuckDBConnection, DuckDBInstance } from './duckdb-api.js';
import { isInstanceInvalidated } from './duckdb-errors.js';
import { SerialQueue } from './serial-queue.js';
import { allThreadsSql, once, SMALL_INDEX_THREADS } from './threads.js';

/**
 * One in-memory DuckDB instance per process, into which every index this process opens the
 * `attach` way is ATTACHed under an alias of its own, and DETACHed again on close.
 *
 * Why: creating an instance costs ~15 ms of CPU here (DuckDB registers every built-in function and
 * the bundled extensions each time), an ATTACH + DETACH on an open instance ~1.6 ms. An owner that
 * releases and re-acquires, a handoff reader taking its turn and a serve taking over all paid the
 * 15 ms on every open.
 *
 * The lock is the same: ATTACH takes the file's fcntl lock as a `DuckDBInstance.create(path)` does,
 * and since DuckDB 1.4 DETACH closes the file (after its checkpoint) before it returns, so the lock
 * is gone when `detach` resolves (tests/index/shared-instance.int.test.ts proves both from another
 * process). One instance also means one process can no longer open the same file read-write twice
 * without knowing: DuckDB refuses a second ATTACH of a path already attached, where two instances
 * in one process would both have opened it (fcntl locks never conflict within a process). READ_ONLY
 * opens of one file share one ATTACH instead, and the last one to close DETACHes it.
 */

interface Shared {
  readonly instance: DuckDBInstance;
  /** Default database `memory`: never USEs an alias, so it can DETACH any of them. */
  readonly admin: DuckDBConnection;
  /** Gives the instance every core (threads.ts), once; it never goes back to one. */
  allThreads?: () => Promise<void>;
}

let shared: Promise<Shared> | undefined;
let aliases = 0;
/** ATTACH and DETACH one at a time: both change the instance's list of databases. */
const catalogChanges = new SerialQueue();

async function createShared(): Promise<Shared> {
  const instance = await DuckDBInstance.create(':memory:', { threads: String(SMALL_INDEX_THREADS) });
  try {
    return { instance, admin: await DuckDBConnection.create(instance) };
  } catch (error) {
    instance.closeSync();
    throw error;
  }
}

function current(): Promise<Shared> {
  if (shared === undefined) {
    const creating = createShared();
    shared = creating;
    creating.catch(() => {
      if (shared === creating) shared = undefined;
    });
  }
  return shared;
}

/**
 * After a fatal error DuckDB refuses every further query on the whole instance ("database has been
 * invalidated"): the next open gets a new one. Databases still attached to the old one are as dead
 * as it is; closing it drops their locks with it.
 */
async function discard(dead: Shared): Promise<void> {
  if (shared === undefined || (await shared.catch(() => undefined)) !== dead) return;
  shared = undefined;
  dead.admin.closeSync();
  dead.instance.closeSync();
}

/** An index ATTACHed to the shared instance: its alias, and connections that USE it. */
export interface Attachment {
  readonly alias: string;
  readonly connections: DuckDBConnection[];
  /**
   * Closes the connections and, once no other Attachment of the file is left, DETACHes it: once
   * this resolves after the last one, the process holds no lock on the file.
   */
  detach(): Promise<void>;
  /** Gives the whole instance every core, for an index too large for one thread (threads.ts). */
  useAllThreads(): Promise<void>;
}

/** One ATTACH of a file, and how many Attachments use it. */
interface AttachedFile {
  readonly file: Promise<{ readonly alias: string; readonly on: Shared }>;
  users: number;
}

/**
 * READ_ONLY files attached now, by path. DuckDB refuses to attach one file twice to an instance,
 * but two readers of one file in a process are fine (two searches of one snapshot, say): they share
 * the ATTACH, each with connections of its own. A read-write open is never shared: a second one
 * of the same file in this process is refused (see the module comment).
 */
const readOnlyFiles = new Map<string, AttachedFile>();

async function attachFile(path: string, options: string): Promise<{ alias: string; on: Shared }> {
  const alias = `embecode_${process.pid}_${++aliases}`;
  const sql = `ATTACH '${path.replaceAll("'", "''")}' AS ${alias} (${options})`;
  const on = await current();
  try {
    await catalogChanges.run(() => on.admin.run(sql));
    return { alias, on };
  } catch (error) {
    if (!isInstanceInvalidated(error)) throw error;
    await discard(on);
    const fresh = await current();
    await catalogChanges.run(() => fresh.admin.run(sql));
    return { alias, on: fresh };
  }
}

async function detachFile({ alias, on }: { alias: string; on: Shared }): Promise<void> {
  try {
    await catalogChanges.run(() => on.admin.run(`DETACH ${alias}`));
  } catch (error) {
    if (!isInstanceInvalidated(error)) throw error;
    await discard(on);
  }
}

/** The ATTACH of `path` to use, taken (its user count raised) before any await, so no detach slips in between. */
function take(path: string, options: string): AttachedFile {
  const shareable = options === 'READ_ONLY';
  const existing = shareable ? readOnlyFiles.get(path) : undefined;
  if (existing !== undefined) {
    existing.users++;
    return existing;
  }
  const entry: AttachedFile = { file: attachFile(path, options), users: 1 };
  if (shareable) {
    readOnlyFiles.set(path, entry);
    entry.file.catch(() => {
      if (readOnlyFiles.get(path) === entry) readOnlyFiles.delete(path);
    });
  }
  return entry;
}

/** Gives back one use of `entry`; the last one DETACHes the file. */
async function giveBack(path: string, entry: AttachedFile): Promise<void> {
  entry.users--;
  if (entry.users > 0) return;
  if (readOnlyFiles.get(path) === entry) readOnlyFiles.delete(path);
  await detachFile(await entry.file);
}

/**
 * ATTACHes `path` (`options` is the ATTACH option list, e.g. `READ_ONLY`) and opens `connections`
 * connections whose default database is it. On failure nothing stays attached or open.
 */
export async function attach(path: string, options: string, connections: number): Promise<Attachment> {
  const entry = take(path, options);
  let attached: { alias: string; on: Shared };
  try {
    attached = await entry.file;
  } catch (error) {
    entry.users--;
    throw error;
  }
  const opened: DuckDBConnection[] = [];
  let detached = false;
  const detach = async (): Promise<void> => {
    if (detached) return;
    detached = true;
    for (const conn of opened) conn.closeSync();
    await giveBack(path, entry);
  };
  try {
    for (let i = 0; i < connections; i++) {
      const conn = await DuckDBConnection.create(attached.on.instance);
      opened.push(conn);
      await conn.run(`USE ${attached.alias}`);
    }
  } catch (error) {
    await detach().catch(() => undefined);
    throw error;
  }
  const on = attached.on;
  on.allThreads ??= once(() => on.admin.run(allThreadsSql()));
  return { alias: attached.alias, connections: opened, detach, useAllThreads: on.allThreads };
}
