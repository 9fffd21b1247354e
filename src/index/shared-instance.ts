import { DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { isInstanceInvalidated } from './duckdb-errors.js';
import { SerialQueue } from './serial-queue.js';

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
 * process). One instance also means one process can no longer open the same file twice without
 * knowing: DuckDB refuses a second ATTACH of a path already attached, where two instances in one
 * process would both have opened it (fcntl locks never conflict within a process).
 */

interface Shared {
  readonly instance: DuckDBInstance;
  /** Default database `memory`: never USEs an alias, so it can DETACH any of them. */
  readonly admin: DuckDBConnection;
}

let shared: Promise<Shared> | undefined;
let aliases = 0;
/** ATTACH and DETACH one at a time: both change the instance's list of databases. */
const catalogChanges = new SerialQueue();

async function createShared(): Promise<Shared> {
  const instance = await DuckDBInstance.create(':memory:');
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
  /** Closes the connections and DETACHes the file: once this resolves, the process holds no lock on it. */
  detach(): Promise<void>;
}

/**
 * ATTACHes `path` (`options` is the ATTACH option list, e.g. `READ_ONLY`) and opens `connections`
 * connections whose default database is it. On failure nothing stays attached or open.
 */
export async function attach(path: string, options: string, connections: number): Promise<Attachment> {
  const alias = `embecode_${process.pid}_${++aliases}`;
  const quoted = path.replaceAll("'", "''");
  let target = await current();
  try {
    await catalogChanges.run(() => target.admin.run(`ATTACH '${quoted}' AS ${alias} (${options})`));
  } catch (error) {
    if (!isInstanceInvalidated(error)) throw error;
    await discard(target);
    target = await current();
    await catalogChanges.run(() => target.admin.run(`ATTACH '${quoted}' AS ${alias} (${options})`));
  }
  const opened: DuckDBConnection[] = [];
  let detached = false;
  const detach = async (): Promise<void> => {
    if (detached) return;
    detached = true;
    for (const conn of opened) conn.closeSync();
    try {
      await catalogChanges.run(() => target.admin.run(`DETACH ${alias}`));
    } catch (error) {
      if (!isInstanceInvalidated(error)) throw error;
      await discard(target);
    }
  };
  try {
    for (let i = 0; i < connections; i++) {
      const conn = await DuckDBConnection.create(target.instance);
      opened.push(conn);
      await conn.run(`USE ${alias}`);
    }
  } catch (error) {
    await detach().catch(() => undefined);
    throw error;
  }
  return { alias, connections: opened, detach };
}
