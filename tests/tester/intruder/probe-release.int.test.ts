import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { describe, expect, it } from 'vitest';
import { IntruderClient } from '../../../src/tester/intruder/intruder-client.js';
import { trackChildren } from '../../support/child-cleanup.js';
import { duckdbLockMessage } from '../../support/lock-assertions.js';
import { makeTempDir } from '../../support/temp-dir.js';

/**
 * The intruder child keeps one DuckDB instance for its whole life and ATTACHes each probe's file
 * to it. What must hold from outside: once a probe's reply is back, that child has nothing of the
 * file left (no lock), whether it got in or was refused, and it can probe the same file again.
 */

const children = trackChildren();

async function startIntruder(): Promise<IntruderClient> {
  const intruder = await IntruderClient.start('none');
  children.add(intruder);
  return intruder;
}

/** Opens `path` read-write in this process (not the intruder's), runs `sql`, closes; the rows. */
async function openHere(path: string, sql: string): Promise<unknown[][]> {
  const instance = await DuckDBInstance.create(path, { access_mode: 'READ_WRITE' });
  try {
    const conn = await instance.connect();
    try {
      return (await conn.runAndReadAll(sql)).getRows();
    } finally {
      conn.closeSync();
    }
  } finally {
    instance.closeSync();
  }
}

/** A DuckDB file with tables `chunks` (3 rows) and `meta`, closed; its name has a quote in it. */
async function closedFile(): Promise<string> {
  const path = join(await makeTempDir('embecode-probe-release-'), "it's index.db");
  await openHere(
    path,
    'CREATE TABLE chunks (id INTEGER); INSERT INTO chunks VALUES (1), (2), (3); CREATE TABLE meta (k TEXT)',
  );
  return path;
}

describe('an intruder probe gives the file back before it replies', () => {
  it('READ_WRITE with prove: the write lands in the file, and another process opens it read-write at once', async () => {
    const path = await closedFile();
    const intruder = await startIntruder();
    expect(await intruder.probe({ path, access: 'READ_WRITE', prove: true })).toEqual({
      gotIn: true,
      did: [
        'opened READ_WRITE',
        'tables: chunks, meta',
        'chunks: 3 rows',
        'created table intruder_probe',
        'inserted 1 row',
        'checkpointed',
        'closed',
      ],
    });
    // No retry: a lock the intruder still held would fail this open.
    expect(await openHere(path, 'SELECT pid FROM intruder_probe')).toEqual([[intruder.pid]]);

    // Same path, same child, again: a new alias, and the table the first probe made is seen.
    expect(await intruder.probe({ path, access: 'READ_WRITE', prove: true })).toMatchObject({
      gotIn: true,
      did: expect.arrayContaining(['tables: chunks, intruder_probe, meta', 'inserted 1 row', 'closed']),
    });
    expect(await openHere(path, 'SELECT count(*)::INTEGER FROM intruder_probe')).toEqual([[2]]);
  });

  it('READ_ONLY, twice on the same path: it reads, writes nothing, and leaves no lock', async () => {
    const path = await closedFile();
    const intruder = await startIntruder();
    for (let i = 0; i < 2; i++) {
      expect(await intruder.probe({ path, access: 'READ_ONLY', prove: true })).toEqual({
        gotIn: true,
        did: ['opened READ_ONLY', 'tables: chunks, meta', 'chunks: 3 rows', 'closed'],
      });
      expect(await openHere(path, 'SELECT count(*)::INTEGER FROM chunks')).toEqual([[3]]);
    }
  });

  it('refused while another process holds the file: nothing stays attached, and the next probe gets in', async () => {
    const path = await closedFile();
    const intruder = await startIntruder();
    const holder = await DuckDBInstance.create(path, { access_mode: 'READ_WRITE' });
    try {
      for (const access of ['READ_WRITE', 'READ_ONLY'] as const) {
        const refused = await intruder.probe({ path, access });
        expect(refused.gotIn).toBe(false);
        expect(refused.gotIn === false && refused.error).toMatch(duckdbLockMessage(path, process.pid, false));
      }
    } finally {
      holder.closeSync();
    }
    expect(await openHere(path, 'SELECT count(*)::INTEGER FROM chunks')).toEqual([[3]]);
    expect(await intruder.probe({ path, access: 'READ_WRITE' })).toEqual({
      gotIn: true,
      did: ['opened READ_WRITE', 'tables: chunks, meta', 'chunks: 3 rows', 'closed'],
    });
    expect(await openHere(path, 'SELECT count(*)::INTEGER FROM chunks')).toEqual([[3]]);
  });
});
