import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { ProtocolClient } from '../../src/child-protocol/client.js';
import { OwnerClient } from '../../src/child-protocol/owner-client.js';
import { RemoteReader } from '../../src/child-protocol/reader.js';
import { liveChildCount } from '../../src/process/children.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * The handoff strategy's retries reach the tester: a child that meets a lock another process
 * holds retries, and its reply says how often and how long it waited (the reach counters count
 * these). Real children, a real DuckDB lock held by this test process.
 */

const children: { stop(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(children.splice(0).map((c) => c.stop().catch(() => undefined)));
  await removeTempDirs();
});
afterAll(() => {
  expect(liveChildCount()).toBe(0);
});

/** Holds `dbPath` in this process (read-write or READ_ONLY) for `ms`; `released` says when it let go. */
async function holdFor(dbPath: string, ms: number, readOnly: boolean): Promise<{ released: Promise<void> }> {
  const instance = await DuckDBInstance.create(dbPath, readOnly ? { access_mode: 'READ_ONLY' } : {});
  const released = new Promise<void>((done) =>
    setTimeout(() => {
      instance.closeSync();
      done();
    }, ms),
  );
  return { released };
}

async function handoffOwner(dir: string): Promise<{ owner: OwnerClient; db: string }> {
  const db = join(dir, 'index.db');
  const owner = await OwnerClient.start('handoff');
  children.push(owner);
  const opened = await owner.request('open', { db, dir });
  expect(opened.ok, JSON.stringify(opened)).toBe(true);
  const wrote = await owner.request('write', {
    files: [{ path: 'a.ts', content: 'export const alpha = 1;' }],
  });
  expect(wrote.ok, JSON.stringify(wrote)).toBe(true);
  return { owner, db };
}

describe('lock waits reported by handoff children', () => {
  it('a reader child retries a held lock and its reply carries the conflicts and the wait', async () => {
    const dir = await makeTempDir('embecode-lockwaits-');
    const { db } = await handoffOwner(dir);
    const child = await ProtocolClient.start('stress-reader', 'handoff');
    children.push(child);
    const reader = new RemoteReader(child);
    await reader.attach(db, dir);
    const { released } = await holdFor(db, 1000, false);
    await reader.open();
    await released;
    const waits = reader.claimLockWaits();
    expect(waits?.conflicts).toBeGreaterThan(0);
    expect(waits?.longestWaitMs).toBeGreaterThan(0);
    // Claimed once: the next claim has nothing new.
    expect(reader.claimLockWaits()).toBeUndefined();
  });

  it('the owner child retries a held lock on a write and its reply carries the conflicts', async () => {
    const dir = await makeTempDir('embecode-lockwaits-');
    const { owner, db } = await handoffOwner(dir);
    const { released } = await holdFor(db, 1000, true);
    const reply = await owner.request('write', {
      files: [{ path: 'b.ts', content: 'export const beta = 2;' }],
    });
    await released;
    expect(reply.ok, JSON.stringify(reply)).toBe(true);
    expect(reply.waits?.conflicts).toBeGreaterThan(0);
    expect(reply.waits?.longestWaitMs).toBeGreaterThan(0);
  });
});
