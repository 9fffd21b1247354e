import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcClient } from '../../src/ipc/client.js';
import { IpcUnavailableError } from '../../src/ipc/errors.js';
import { EMBECODE_CLI, isRoleEvent, ServeChild } from '../../src/tester/serve/serve-child.js';
import { makeDemoProject, writeManyModules } from '../support/demo-project.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * Catch-up on demand: `embecode index` on a project whose `embecode serve` owner runs asks that
 * owner to catch up (ipc `catch-up`) and prints its summary, instead of failing on the owner's
 * lock. Real serve processes on a real project and index; every one is gone when a test ends.
 */
const started: ServeChild[] = [];

afterEach(async () => {
  for (const child of started) child.kill('SIGKILL');
  await Promise.all(started.map((child) => child.exited));
  started.length = 0;
  await removeTempDirs();
});

async function setUp(): Promise<{ dir: string; db: string }> {
  const dir = await makeDemoProject('embecode-catchup-project-');
  const db = join(await makeTempDir('embecode-catchup-db-'), 'index.db');
  return { dir, db };
}

function serve(dir: string, db: string): ServeChild {
  const child = new ServeChild({ dir, db });
  started.push(child);
  return child;
}

async function cli(args: readonly string[]) {
  const r = await execa(process.execPath, [EMBECODE_CLI, ...args], { reject: false, timeout: 60_000 });
  return { code: r.exitCode, stdout: r.stdout, stderr: r.stderr };
}

interface IndexJson {
  via: 'owner' | 'direct';
  ownerPid: number | null;
  added: number;
  updated: number;
  deleted: number;
  files: number;
}

async function searchPaths(dir: string, db: string, query: string): Promise<string[]> {
  const r = await cli(['search', query, '--dir', dir, '--db', db, '--mode', 'bm25', '--json']);
  expect(r.code, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { results: { path: string }[] }).results.map((x) => x.path);
}

describe('embecode index while embecode serve owns the project', () => {
  it("asks the owner to catch up and prints the owner's summary; the change is searchable at once", async () => {
    const { dir, db } = await setUp();
    const owner = serve(dir, db);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed' && e.reason === 'start', 0, 30_000);

    await writeFile(
      join(dir, 'src/new-module.ts'),
      'export function frobnicateZorblax(): number {\n  return 7;\n}\n',
    );
    await writeFile(join(dir, 'README.md'), '# Demo\n\nNow about quasiflux capacitors.\n');
    const text = await cli(['index', dir, '--db', db]);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toContain(`(caught up by embecode serve, pid ${owner.pid})`);
    expect(text.stdout).toContain('1 added, 1 updated, 0 deleted');
    expect(await searchPaths(dir, db, 'frobnicateZorblax')).toEqual(['src/new-module.ts']);

    const json = await cli(['index', dir, '--db', db, '--json']);
    expect(json.code, json.stderr).toBe(0);
    const summary = JSON.parse(json.stdout) as IndexJson;
    expect(summary).toMatchObject({ via: 'owner', ownerPid: owner.pid, added: 0, updated: 0, files: 5 });
    expect(owner.alive).toBe(true);
    expect(owner.events.filter((e) => e.event === 'indexed' && e.reason === 'request')).toHaveLength(2);
  });

  it("a catch-up sent to a reader's own socket is run by the owner", async () => {
    const { dir, db } = await setUp();
    const owner = serve(dir, db);
    await owner.waitEvent('owner role', isRoleEvent('owner'), 0, 30_000);
    const reader = serve(dir, db);
    const role = await reader.waitEvent('reader role', isRoleEvent('reader'), 0, 30_000);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed', 0, 30_000);

    await writeFile(join(dir, 'src/server/handler.ts'), 'export const zentrifugalPump = 3;\n');
    const client = new IpcClient(role.socket as string);
    try {
      const summary = await client.catchUp(30_000);
      expect(summary).toMatchObject({ pid: owner.pid, updated: 1, added: 0 });
    } finally {
      await client.close();
    }
    expect(await searchPaths(dir, db, 'zentrifugalPump')).toEqual(['src/server/handler.ts']);
  });

  it('an owner stopped (SIGTERM) during a requested catch-up answers retryable, and a reader takes over with the change', async () => {
    const { dir, db } = await setUp();
    // Enough files that a catch-up of all of them is still running when SIGTERM lands.
    const many = 300;
    const write = (round: string) => writeManyModules(dir, 'gen', many, round);
    await write('first');
    const owner = serve(dir, db);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed' && e.reason === 'start', 0, 60_000);
    const reader = serve(dir, db);
    await reader.waitEvent('reader role', isRoleEvent('reader'), 0, 30_000);

    await write('second');
    const ownerSocket = owner.events.find((e) => e.event === 'role')?.ownerSocket as string;
    const client = new IpcClient(ownerSocket);
    let answer: unknown;
    try {
      const asked = client.catchUp(60_000).then(
        (summary) => summary,
        (error: unknown) => error,
      );
      await client.status(5_000); // frames are read in order: the catch-up runs once this answers
      owner.kill('SIGTERM');
      answer = await asked;
    } finally {
      await client.close();
    }
    expect(answer, 'the catch-up was cut by the stop, so it must not be answered as done').toBeInstanceOf(
      IpcUnavailableError,
    );
    expect(String((answer as Error).message)).toMatch(/shutting down|stopped before its catch-up|closed/);
    expect((await owner.exited).code).toBe(0);

    await reader.waitEvent('takeover', (e) => isRoleEvent('owner')(e) && e.takeover === true, 0, 15_000);
    const again = await cli(['index', dir, '--db', db, '--json']);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ via: 'owner', ownerPid: reader.pid });
    expect((await searchPaths(dir, db, 'gen17second'))[0]).toBe('gen/m17.ts');
  });

  it('with no serve running, indexes directly as before', async () => {
    const { dir, db } = await setUp();
    const r = await cli(['index', dir, '--db', db, '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ via: 'direct', ownerPid: null, added: 4 });
  });
});
