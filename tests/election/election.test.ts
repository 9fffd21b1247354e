import { closeSync, openSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, test } from 'vitest';
import {
  currentOwner,
  LOCK_FILE,
  type OwnerLease,
  RECORD_FILE,
  tryBecomeOwner,
  watchForTakeover,
} from '../../src/election/election.js';
import { procLockHolder, procLocksAvailable } from '../../src/election/proc-locks.js';
import { EmbecodeError } from '../../src/errors.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * The election inside one process: what it does, and the POSIX pitfall it guards against. The
 * cross-process behaviour (races, takeover, SIGKILL) is in election.int.test.ts.
 */

const leases: OwnerLease[] = [];

afterEach(async () => {
  await Promise.all(leases.splice(0).map((lease) => lease.release()));
  await removeTempDirs();
});

async function stateDir(): Promise<string> {
  return join(await makeTempDir('embecode-election-'), 'state');
}

async function becomeOwner(dir: string): Promise<OwnerLease> {
  const result = await tryBecomeOwner(dir, { info: { test: true } });
  if (result.role !== 'owner') throw new Error(`expected to become owner of ${dir}, got ${result.role}`);
  leases.push(result);
  return result;
}

/**
 * What the lock checks say for a lock this process holds, and for a free one: the kernel's answer
 * where /proc/locks exists, and "cannot tell" where it does not (a lease never guesses).
 */
const HELD = procLocksAvailable() ? 'held' : 'unknown';
const NO_HOLDER = procLocksAvailable() ? { known: true, pid: undefined } : { known: false };

async function rejection(promise: Promise<unknown>): Promise<EmbecodeError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(EmbecodeError);
  expect((error as Error).message).not.toMatch(/[\r\n]/);
  return error as EmbecodeError;
}

describe('tryBecomeOwner in one process', () => {
  test('creates a private state dir, a complete lock file and a record naming this process', async () => {
    const dir = await stateDir();
    const lease = await becomeOwner(dir);
    expect(lease).toMatchObject({ role: 'owner', dir, pid: process.pid, released: false });
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect((await stat(lease.lockPath)).mode & 0o777).toBe(0o600);
    expect((await stat(lease.lockPath)).size).toBeGreaterThan(0);
    expect((await readdir(dir)).sort()).toEqual([RECORD_FILE, LOCK_FILE].sort());
    const record = JSON.parse(await readFile(join(dir, RECORD_FILE), 'utf8'));
    expect(record).toMatchObject({ version: 1, pid: process.pid, info: { test: true } });
    expect(await lease.check()).toBe(HELD);
  });

  test('release removes the record, frees the lock, and the directory can be won again', async () => {
    const dir = await stateDir();
    const lease = await becomeOwner(dir);
    await lease.release();
    await lease.release(); // twice is fine
    expect(lease.released).toBe(true);
    expect(await readdir(dir)).toEqual([LOCK_FILE]);
    expect(await procLockHolder(lease.lockPath)).toEqual(NO_HOLDER);
    const again = await becomeOwner(dir);
    expect(again.role).toBe('owner');
  });

  test('publish rewrites the record; currentOwner reports this process without opening the lock', async () => {
    const dir = await stateDir();
    const lease = await becomeOwner(dir);
    await lease.publish({ socket: join(dir, 'owner.sock') });
    const status = await currentOwner(dir);
    expect(status).toMatchObject({
      pid: process.pid,
      via: 'self',
      record: { state: 'current', record: { pid: process.pid, info: { socket: join(dir, 'owner.sock') } } },
    });
    // Asked to probe, it still does not open the lock file in the process that holds it.
    expect(await currentOwner(dir, { probe: true })).toMatchObject({ pid: process.pid, via: 'self' });
    expect(await lease.check()).toBe(HELD);
    await lease.release();
    await expect(lease.publish({})).rejects.toThrow(/no longer owns/);
  });

  test('currentOwner of a directory that does not exist: nobody, and nothing is created', async () => {
    const dir = await stateDir();
    expect(await currentOwner(dir)).toMatchObject({ pid: undefined, record: { state: 'missing' } });
    await expect(stat(dir)).rejects.toThrow();
  });
});

describe('the POSIX pitfall: one open of the lock file per process', () => {
  test.skipIf(!procLocksAvailable())(
    'the hazard is real: a second open of the lock file in the owner process, once closed, drops its lock (needs /proc/locks: only the kernel can show a lock gone)',
    async () => {
      const dir = await stateDir();
      const lease = await becomeOwner(dir);
      // DuckDB lets the same process open the file again (a process never conflicts with itself)...
      const second = await DuckDBInstance.create(lease.lockPath);
      second.closeSync();
      // ...and closing that copy released the owner's lock: the kernel lists no holder any more.
      expect(await procLockHolder(lease.lockPath)).toEqual({ known: true, pid: undefined });
      expect(await lease.check()).toBe('lost');
    },
  );

  test.skipIf(!procLocksAvailable())(
    'so does a plain fs open and close of the lock file (needs /proc/locks, as above)',
    async () => {
      const dir = await stateDir();
      const lease = await becomeOwner(dir);
      closeSync(openSync(lease.lockPath, 'r'));
      expect(await lease.check()).toBe('lost');
    },
  );

  test('a second tryBecomeOwner for a directory this process owns is refused, and the lock stays', async () => {
    const dir = await stateDir();
    const lease = await becomeOwner(dir);
    const error = await rejection(tryBecomeOwner(dir));
    expect(error.kind).toBe('usage');
    expect(error.message).toContain(`process ${process.pid} already owns ${dir}`);
    // Through a symlinked parent: still the same directory (the slot is keyed by the real path).
    const alias = join(dir, '..', 'alias');
    await symlink(join(dir, '..'), alias);
    await expect(tryBecomeOwner(join(alias, 'state'))).rejects.toThrow(/already owns/);
    expect(await lease.check()).toBe(HELD);
  });

  test('two concurrent attempts in one process: one owner, the other refused, never two opens', async () => {
    const dir = await stateDir();
    await mkdir(dir, { mode: 0o700 });
    const results = await Promise.allSettled([tryBecomeOwner(dir), tryBecomeOwner(dir)]);
    const owners = results.filter((r) => r.status === 'fulfilled' && r.value.role === 'owner');
    const refused = results.filter((r) => r.status === 'rejected');
    expect(owners).toHaveLength(1);
    expect(refused).toHaveLength(1);
    const lease = (owners[0] as PromiseFulfilledResult<OwnerLease>).value;
    leases.push(lease);
    expect(String((refused[0] as PromiseRejectedResult).reason)).toMatch(/already (owns|opening)/);
    expect(await lease.check()).toBe(HELD);
  });

  test('a watcher in the owner process is refused rather than opening the lock again', async () => {
    const dir = await stateDir();
    const lease = await becomeOwner(dir);
    const watch = watchForTakeover(dir, { intervalMs: 10 });
    await expect(watch.result).rejects.toThrow(/already owns/);
    expect(await lease.check()).toBe(HELD);
  });
});

describe('watchForTakeover in one process', () => {
  test('takes a free lock at once and hands the lease to onOwner', async () => {
    const dir = await stateDir();
    let handed: OwnerLease | undefined;
    const watch = watchForTakeover(dir, { intervalMs: 20, onOwner: (lease) => (handed = lease) });
    const lease = await watch.result;
    expect(lease).toBeDefined();
    if (lease !== undefined) leases.push(lease);
    expect(handed).toBe(lease);
    watch.stop(); // after the fact: harmless
  });

  test('an onOwner that throws: the lease is released and the watch rejects', async () => {
    const dir = await stateDir();
    const watch = watchForTakeover(dir, {
      intervalMs: 20,
      onOwner: () => {
        throw new Error('boom');
      },
    });
    await expect(watch.result).rejects.toThrow('boom');
    const again = await becomeOwner(dir);
    expect(again.role).toBe('owner');
  });

  test('refuses a non-positive interval', () => {
    expect(() => watchForTakeover('/nonexistent', { intervalMs: 0 })).toThrow(/intervalMs/);
  });
});

describe('bad lock files', () => {
  async function withLockFile(content: string | Buffer): Promise<{ dir: string; lockPath: string }> {
    const dir = await stateDir();
    await mkdir(dir, { mode: 0o700 });
    const lockPath = join(dir, LOCK_FILE);
    await writeFile(lockPath, content, { mode: 0o600 });
    return { dir, lockPath };
  }

  test('garbage: a one-line corrupt error that names the file and the fix, and nobody owns', async () => {
    const { dir, lockPath } = await withLockFile('this is not a database '.repeat(500));
    const error = await rejection(tryBecomeOwner(dir));
    expect(error.kind).toBe('corrupt');
    expect(error.message).toContain(`election lock file ${lockPath} is corrupt and nobody holds it`);
    expect(error.message).toContain(`rm ${lockPath}`);
    expect((await currentOwner(dir)).pid).toBeUndefined();
  });

  test('empty: the same corrupt error (DuckDB does not treat an empty file as new)', async () => {
    const { dir } = await withLockFile('');
    expect((await rejection(tryBecomeOwner(dir))).kind).toBe('corrupt');
  });

  test('truncated DuckDB file: a one-line error with the same remedy', async () => {
    const source = join(await makeTempDir(), 'whole.db');
    (await DuckDBInstance.create(source)).closeSync();
    const whole = await readFile(source);
    const { dir, lockPath } = await withLockFile(whole.subarray(0, 5000));
    const error = await rejection(tryBecomeOwner(dir));
    expect(['corrupt', 'io']).toContain(error.kind);
    expect(error.message).toContain(`rm ${lockPath}`);
  });

  test('a symlink or a directory in its place is refused', async () => {
    const dir = await stateDir();
    await mkdir(dir, { mode: 0o700 });
    await symlink('/etc/hostname', join(dir, LOCK_FILE));
    expect((await rejection(tryBecomeOwner(dir))).message).toContain(
      'is not a regular file (a symbolic link)',
    );
    const other = await stateDir();
    await mkdir(join(other, LOCK_FILE), { recursive: true, mode: 0o700 });
    expect((await rejection(tryBecomeOwner(other))).message).toContain('is not a regular file');
  });

  test('the slot is given back after a failed attempt: a fixed file can be won', async () => {
    const { dir, lockPath } = await withLockFile('garbage');
    await rejection(tryBecomeOwner(dir));
    await rejection(tryBecomeOwner(dir));
    await import('node:fs/promises').then((fs) => fs.rm(lockPath));
    expect((await becomeOwner(dir)).role).toBe('owner');
  });
});
