import { existsSync } from 'node:fs';
import { mkdir, open, readdir, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/process/children.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * Partial corruption of a real index built by the CLI: 64 KiB of garbage in the middle of the
 * file, as a bad disk or a stray write would leave it. Every command must say, in one line and
 * with exit 2, that the index is damaged and that `embecode index --rebuild` is the fix; the
 * rebuild moves the damaged file aside (kept, not deleted) and builds a sound one.
 */
const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'embecode.js');
const DAMAGED =
  /^embecode: index .+ is damaged \(DuckDB: .*Corrupt database file.*\); run `embecode index --rebuild` with the same project or --db to move it aside and index again$/;

let cacheHome = '';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is not built; run \`npm run build\` first`);
});

afterEach(removeTempDirs);

async function run(args: readonly string[]) {
  const result = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: { XDG_CACHE_HOME: cacheHome },
    timeout: 60_000,
  });
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** 120 files of distinct code: an index of ~2 MiB, so its middle holds table data. */
async function makeProject(): Promise<string> {
  const dir = join(await makeTempDir('embecode-corrupt-project-'), 'proj');
  for (let i = 0; i < 120; i++) {
    const path = join(dir, `src/mod${i % 10}/file${i}.ts`);
    await mkdir(dirname(path), { recursive: true });
    const body = Array.from(
      { length: 25 },
      (_, j) =>
        `export function handler${i}x${j}(input${j}: number): number {\n  return input${j} * ${i + j} + ${j};\n}\n`,
    ).join('\n');
    await writeFile(path, body);
  }
  return dir;
}

async function overwriteMiddle(path: string, bytes: number): Promise<void> {
  const size = (await stat(path)).size;
  const handle = await open(path, 'r+');
  try {
    const garbage = Buffer.alloc(bytes, 0xa5);
    await handle.write(garbage, 0, bytes, Math.floor(size / 2));
  } finally {
    await handle.close();
  }
}

function expectDamaged(result: { code: number | undefined; stderr: string }, what: string) {
  expect(result.code, `${what}: ${result.stderr}`).toBe(2);
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect(lines.at(-1), what).toMatch(DAMAGED);
}

describe('a partly overwritten index', () => {
  it('fails every command with exit 2 and one line naming --rebuild, which moves it aside and rebuilds', async () => {
    cacheHome = await makeTempDir('embecode-corrupt-cache-');
    const dir = await makeProject();
    const dbDir = await makeTempDir('embecode-corrupt-db-');
    const db = join(dbDir, 'index.db');
    const built = await run(['index', dir, '--db', db]);
    expect(built.code, built.stderr).toBe(0);
    expect((await stat(db)).size).toBeGreaterThan(1024 * 1024);
    await overwriteMiddle(db, 64 * 1024);

    expectDamaged(await run(['status', '--db', db]), 'status');
    for (const mode of ['hybrid', 'vector', 'bm25']) {
      expectDamaged(await run(['search', 'handler7x3', '--db', db, '--mode', mode]), `search --mode ${mode}`);
    }
    expectDamaged(await run(['index', dir, '--db', db]), 'index');
    const serve = await run(['serve', dir, '--db', db]);
    expectDamaged(serve, 'serve');
    expect(serve.stderr.split('\n').filter((l) => l !== '')).toHaveLength(1);

    const rebuilt = await run(['index', dir, '--db', db, '--rebuild', '--json']);
    expect(rebuilt.code, rebuilt.stderr).toBe(0);
    const summary = JSON.parse(rebuilt.stdout) as {
      added: number;
      movedAside: { from: string; to: string }[];
    };
    expect(summary.added).toBe(120);
    expect(summary.movedAside).toHaveLength(1);
    const aside = summary.movedAside[0]?.to as string;
    expect(aside.startsWith(`${db}.before-rebuild-`)).toBe(true);
    expect(rebuilt.stderr).toContain(`moved ${db} aside to ${aside}`);
    // The damaged file is kept as it was, still damaged; the new index is sound.
    // (index.db.state is serve's state directory.)
    expect((await readdir(dbDir)).sort()).toEqual([
      'index.db',
      aside.slice(dbDir.length + 1),
      'index.db.state',
    ]);
    expectDamaged(await run(['status', '--db', aside]), 'status of the moved file');
    expect((await run(['status', '--db', db])).code).toBe(0);
    const found = await run(['search', 'handler7x3', '--db', db, '--mode', 'bm25', '--json']);
    expect((JSON.parse(found.stdout) as { results: { path: string }[] }).results[0]?.path).toBe(
      'src/mod7/file7.ts',
    );
  }, 150_000);

  it('--rebuild refuses, touching nothing, a file that is not an index', async () => {
    cacheHome = await makeTempDir('embecode-corrupt-cache-');
    const dir = await makeTempDir('embecode-corrupt-project-');
    const base = await makeTempDir();
    const source = join(base, 'notes.ts');
    await writeFile(source, 'export const mine = 1;\n');
    const result = await run(['index', dir, '--db', source, '--rebuild']);
    expect(result.code).toBe(2);
    expect(result.stderr.trim()).toBe(
      `embecode: ${source} is not an embecode index (not a DuckDB database file); embecode leaves it untouched: give --db a new path or an existing index`,
    );
    expect(await readdir(base)).toEqual(['notes.ts']);
  });
});
