import { spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/index/database.js';
import { HashingEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const embedder = new HashingEmbedder({ dimensions: 64 });
const dist = (file: string) => pathToFileURL(resolve('dist/src/index', file)).href;
const opened: Database[] = [];

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  await removeTempDirs();
});

/**
 * A child owner that writes a file, deletes it, prints the ids it used and kills itself with
 * SIGKILL: no checkpoint, no close, so the next open must replay the WAL to learn the id mark.
 */
const CHILD = `
import { Database } from ${JSON.stringify(dist('database.js'))};
import { HashingEmbedder } from ${JSON.stringify(dist('embedder.js'))};
import { prepareFile } from ${JSON.stringify(dist('prepare.js'))};
const embedder = new HashingEmbedder({ dimensions: 64 });
const db = await Database.open(process.argv[1], { mode: 'owner', dimensions: 64, embedder: embedder.name });
const content = 'export function first() {\\n  return 1;\\n}\\n\\nexport function second() {\\n  return 2;\\n}\\n';
await db.upsertFiles([await prepareFile('src/gone.ts', content, embedder)]);
const ids = await db.read(async (conn) => (await conn.runAndReadAll('SELECT id FROM chunks')).getRows());
await db.deleteFiles(['src/gone.ts']);
process.stdout.write(JSON.stringify(ids.map((r) => Number(r[0]))) + '\\n', () => process.kill(process.pid, 'SIGKILL'));
`;

function runChild(path: string): Promise<{ signal: string | null; stdout: string; stderr: string }> {
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', CHILD, path], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('error', fail);
    child.on('close', (_code, signal) => done({ signal, stdout, stderr }));
  });
}

describe('chunk ids across a crash', () => {
  it('are not reused after a write, a delete and SIGKILL before any checkpoint', async () => {
    const path = join(await makeTempDir(), 'index.db');
    const child = await runChild(path);
    expect(child.signal, child.stderr).toBe('SIGKILL');
    const used = JSON.parse(child.stdout) as number[];
    expect(used.length).toBe(2);
    // The writes live only in the WAL: this is the replay path, not a checkpointed file.
    expect(existsSync(`${path}.wal`) && statSync(`${path}.wal`).size > 0).toBe(true);

    const db = await Database.open(path, { mode: 'owner', dimensions: 64, embedder: embedder.name });
    opened.push(db);
    expect(await db.stats()).toMatchObject({ files: 0, chunks: 0 });
    await db.upsertFiles([await prepareFile('src/next.ts', 'export const next = 1;\n', embedder)]);
    const ids = await db.read(async (conn) => (await conn.runAndReadAll('SELECT id FROM chunks')).getRows());
    expect(ids.length).toBe(1);
    expect(Number(ids[0]?.[0])).toBeGreaterThan(Math.max(...used));
  });
});
