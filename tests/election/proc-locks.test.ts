import { statSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterEach, describe, expect, test } from 'vitest';
import {
  decodeDev,
  fileId,
  parseProcLocks,
  procLockHolder,
  procLocksAvailable,
  procWriteLockHolders,
  readProcLocks,
  writeLockHolder,
  writeLockHolders,
} from '../../src/election/proc-locks.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

afterEach(async () => {
  await removeTempDirs();
});

const SAMPLE = [
  '1: POSIX  ADVISORY  WRITE 19123 fe:00:2285903 0 EOF',
  '1: -> POSIX  ADVISORY  WRITE 19124 fe:00:2285903 0 EOF',
  '2: FLOCK  ADVISORY  WRITE 811 00:1a:44 0 EOF',
  '3: OFDLCK ADVISORY  READ  -1 103:01:77 0 EOF',
  '4: POSIX  ADVISORY  READ  900 fe:00:55 0 EOF',
  '5: LEASE  ACTIVE    READ  1200 fe:00:56 0 EOF',
  'garbage that is not a lock line',
  '',
].join('\n');

describe('parseProcLocks', () => {
  test('reads holders and waiters, hex devices, decimal inodes', () => {
    const locks = parseProcLocks(SAMPLE);
    expect(locks).toHaveLength(6);
    expect(locks[0]).toEqual({
      type: 'POSIX',
      access: 'WRITE',
      pid: 19123,
      major: 0xfe,
      minor: 0,
      inode: 2285903n,
      blocked: false,
    });
    expect(locks[1]).toMatchObject({ pid: 19124, blocked: true });
    expect(locks[3]).toMatchObject({ type: 'OFDLCK', pid: -1, major: 0x103, minor: 1, inode: 77n });
    expect(locks[5]).toMatchObject({ type: 'LEASE', access: 'READ' });
  });

  test('the WRITE holder is the non-waiting POSIX WRITE lock on exactly that device and inode', () => {
    const locks = parseProcLocks(SAMPLE);
    expect(writeLockHolder(locks, { major: 0xfe, minor: 0, inode: 2285903n })).toBe(19123);
    // A READ lock (a READ_ONLY DuckDB open) is not ownership.
    expect(writeLockHolder(locks, { major: 0xfe, minor: 0, inode: 55n })).toBeUndefined();
    // flock(2) is another kind of lock, which DuckDB does not use.
    expect(writeLockHolder(locks, { major: 0, minor: 0x1a, inode: 44n })).toBeUndefined();
    // Same inode number on another device is another file.
    expect(writeLockHolder(locks, { major: 0xfd, minor: 0, inode: 2285903n })).toBeUndefined();
    expect(writeLockHolders(locks, { major: 0xfe, minor: 0, inode: 2285903n })).toEqual([19123]);
    // Only a waiter: nobody holds it.
    expect(
      writeLockHolder(parseProcLocks('1: -> POSIX ADVISORY WRITE 5 fe:00:9 0 EOF'), {
        major: 0xfe,
        minor: 0,
        inode: 9n,
      }),
    ).toBeUndefined();
  });
});

describe('decodeDev', () => {
  const makedev = (major: bigint, minor: bigint) =>
    ((major & 0xfffff000n) << 32n) |
    ((major & 0xfffn) << 8n) |
    ((minor & 0xffffff00n) << 12n) |
    (minor & 0xffn);

  test.each([
    [254n, 0n],
    [8n, 1n],
    [259n, 3n],
    [0n, 300n],
    [4097n, 1048575n],
  ])('undoes glibc makedev(%i, %i)', (major, minor) => {
    expect(decodeDev(makedev(major, minor))).toEqual({ major: Number(major), minor: Number(minor) });
  });
});

describe.skipIf(!procLocksAvailable())(
  'procLockHolder against the real kernel (needs /proc/locks to read)',
  () => {
    test('names this process while it holds a DuckDB file read-write, nobody after close', async () => {
      const path = join(await makeTempDir(), 'held.db');
      const instance = await DuckDBInstance.create(path);
      try {
        expect(await procLockHolder(path)).toEqual({ known: true, pid: process.pid });
        const id = await fileId(path);
        expect(id?.inode).toBe(statSync(path, { bigint: true }).ino);
      } finally {
        instance.closeSync();
      }
      expect(await procLockHolder(path)).toEqual({ known: true, pid: undefined });
    });

    test('readProcLocks: a short table is read in one call, an atomic snapshot', async () => {
      const path = join(await makeTempDir(), 'snap.db');
      const instance = await DuckDBInstance.create(path);
      try {
        const read = await readProcLocks();
        expect(read).toBeDefined();
        if (read !== undefined && read.text.length < 3000) expect(read.atomic).toBe(true);
        expect(await procWriteLockHolders(path)).toEqual([process.pid]);
      } finally {
        instance.closeSync();
      }
      expect(await procWriteLockHolders(path)).toEqual([]);
    });

    test('a READ_ONLY holder is not a WRITE holder; a missing file has none', async () => {
      const dir = await makeTempDir();
      const path = join(dir, 'ro.db');
      (await DuckDBInstance.create(path)).closeSync();
      const reader = await DuckDBInstance.create(path, { access_mode: 'READ_ONLY' });
      try {
        expect(await procLockHolder(path)).toEqual({ known: true, pid: undefined });
      } finally {
        reader.closeSync();
      }
      expect(await procLockHolder(join(dir, 'absent.db'))).toEqual({ known: true, pid: undefined });
      await writeFile(join(dir, 'plain'), 'x');
      expect(await procLockHolder(join(dir, 'plain'))).toEqual({ known: true, pid: undefined });
    });
  },
);
