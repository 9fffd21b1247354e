import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, realpath, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/process/children.js';
import { makeDemoProject } from '../support/demo-project.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * The built CLI (`npm test` builds first), run as a real process with argument arrays, its
 * default index location pointed into a temp dir through XDG_CACHE_HOME.
 */
const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'embecode.js');

let cacheHome = '';

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is not built; run \`npm run build\` first`);
});

afterEach(removeTempDirs);

async function run(args: readonly string[], options: { cwd?: string } = {}) {
  const result = await execa(process.execPath, [CLI, ...args], {
    reject: false,
    env: { XDG_CACHE_HOME: cacheHome },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    timeout: 60_000,
  });
  return { code: result.exitCode, stdout: result.stdout, stderr: result.stderr };
}

/** Exit 2 with exactly one line on stderr, starting with `embecode: `. */
function expectUsageError(
  result: { code: number | undefined; stderr: string; stdout: string },
  text?: string,
) {
  expect(result.code, result.stderr).toBe(2);
  const lines = result.stderr.split('\n').filter((l) => l !== '');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^embecode: \S/);
  if (text !== undefined) expect(lines[0]).toContain(text);
  expect(result.stdout).toBe('');
}

async function makeProject(): Promise<string> {
  cacheHome = await makeTempDir('embecode-cli-cache-');
  return makeDemoProject('embecode-cli-project-');
}

describe('embecode CLI', () => {
  it('indexes a project into the default location, then searches and describes it', async () => {
    const dir = await makeProject();
    const indexed = await run(['index', dir]);
    expect(indexed.code, indexed.stderr).toBe(0);
    expect(indexed.stdout).toContain('4 added, 0 updated, 0 deleted, 0 unchanged, 0 skipped');
    expect(indexed.stderr).toBe('');

    // Default location: $XDG_CACHE_HOME/embecode/<basename>-<hash of the real path>/index.db
    const [entry, ...others] = await readdir(join(cacheHome, 'embecode'));
    expect(others).toEqual([]);
    expect(entry).toMatch(/^demo-[0-9a-f]{12}$/);
    const dbPath = join(cacheHome, 'embecode', entry as string, 'index.db');
    expect(existsSync(dbPath)).toBe(true);

    for (const mode of ['hybrid', 'bm25', 'vector']) {
      const searched = await run([
        'search',
        'registerQuuxblatRoutes',
        '--dir',
        dir,
        '--mode',
        mode,
        '--json',
      ]);
      expect(searched.code, searched.stderr).toBe(0);
      expect(searched.stderr).toBe('');
      const parsed = JSON.parse(searched.stdout) as {
        query: string;
        mode: string;
        results: { path: string; startLine: number; endLine: number; score: number; preview: string }[];
      };
      expect(Object.keys(parsed).sort()).toEqual(['mode', 'query', 'results']);
      expect(parsed).toMatchObject({ query: 'registerQuuxblatRoutes', mode });
      // The hashing embedder finds the README about routes about as similar as the code itself.
      const top = mode === 'vector' ? parsed.results.slice(0, 2) : parsed.results.slice(0, 1);
      expect(
        top.map((r) => r.path),
        mode,
      ).toContain('src/server/routes.ts');
      expect(Object.keys(parsed.results[0] ?? {}).sort()).toEqual([
        'endLine',
        'path',
        'preview',
        'score',
        'startLine',
      ]);
    }

    // From inside the project, with the defaults (--dir .), top-k and a path prefix.
    const local = await run(['search', 'request', '--json', '--top-k', '1', '--path', './src/server'], {
      cwd: dir,
    });
    expect(local.code, local.stderr).toBe(0);
    const localParsed = JSON.parse(local.stdout) as { results: { path: string }[] };
    expect(localParsed.results).toHaveLength(1);
    expect(localParsed.results[0]?.path.startsWith('src/server/')).toBe(true);

    const human = await run(['search', 'slugify', '--dir', dir, '--mode', 'bm25']);
    expect(human.code).toBe(0);
    expect(human.stdout).toMatch(/^1\. src\/util\/strings\.py:1-2 {2}\(score /);

    const status = await run(['status', '--dir', dir, '--json']);
    expect(status.code, status.stderr).toBe(0);
    const parsedStatus = JSON.parse(status.stdout) as Record<string, unknown>;
    expect(parsedStatus).toMatchObject({ db: dbPath, files: 4, dimensions: 384, embedder: 'hashing-v2-384' });
    expect(parsedStatus.chunks).toBeGreaterThanOrEqual(4);
    expect(parsedStatus.sizeBytes).toBeGreaterThan(0);
    const humanStatus = await run(['status', '--dir', dir]);
    expect(humanStatus.stdout).toContain(dbPath);

    // Catch-up: nothing changed, then one change.
    const again = await run(['index', dir, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({
      added: 0,
      updated: 0,
      deleted: 0,
      unchanged: 4,
      files: 4,
    });
    await writeFile(join(dir, 'src/util/strings.py'), 'def slugify(text):\n    return text\n');
    const changed = await run(['index', dir, '--json']);
    expect(JSON.parse(changed.stdout)).toMatchObject({ updated: 1, unchanged: 3 });
  });

  it('uses --db for index, search and status, and the same index for a symlinked path', async () => {
    const dir = await makeProject();
    const dbPath = join(await makeTempDir(), 'nested', 'dirs', 'index.db');
    expect((await run(['index', dir, '--db', dbPath])).code).toBe(0);
    expect(existsSync(dbPath)).toBe(true);
    const searched = await run(['search', 'slugify', '--db', dbPath, '--json']);
    expect((JSON.parse(searched.stdout) as { results: { path: string }[] }).results[0]?.path).toBe(
      'src/util/strings.py',
    );
    expect(JSON.parse((await run(['status', '--db', dbPath, '--json'])).stdout)).toMatchObject({
      db: dbPath,
    });
    expect(await readdir(cacheHome)).toEqual([]); // nothing went to the default location

    const real = await realpath(dir);
    const viaDot = await run(['index', '.', '--json'], { cwd: real });
    expect(JSON.parse(viaDot.stdout)).toMatchObject({ dir: real, added: 4 });
  });

  it('gives an empty result and a one-line note for a punctuation-only query', async () => {
    const dir = await makeProject();
    await run(['index', dir]);
    const result = await run(['search', '(){}[];', '--dir', dir, '--json']);
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toEqual({ query: '(){}[];', mode: 'hybrid', results: [] });
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/^embecode: note: /);
  });

  describe('bad input: exit 2 and one line on stderr', () => {
    it('a missing directory, or a file given as the directory', async () => {
      const dir = await makeProject();
      expectUsageError(await run(['index', join(dir, 'nope')]), join(dir, 'nope'));
      expectUsageError(await run(['index', join(dir, 'README.md')]), 'not a directory');
      expectUsageError(await run(['search', 'x', '--dir', join(dir, 'nope')]), join(dir, 'nope'));
      expect(await readdir(cacheHome)).toEqual([]);
    });

    it('bad options and arguments', async () => {
      const dir = await makeProject();
      await run(['index', dir]);
      expectUsageError(await run(['search', 'x', '--dir', dir, '--mode', 'fuzzy']), 'fuzzy');
      expectUsageError(await run(['search', 'x', '--dir', dir, '--top-k', 'abc']), 'abc');
      expectUsageError(await run(['search', 'x', '--dir', dir, '--top-k', '0']));
      expectUsageError(await run(['search', 'x', '--dir', dir, '--top-k', '2.5']));
      expectUsageError(await run(['search', '', '--dir', dir]), 'empty query');
      expectUsageError(await run(['search', '   ', '--dir', dir]), 'empty query');
      expectUsageError(await run(['search']));
      expectUsageError(await run(['index', dir, '--frobnicate']), '--frobnicate');
      expectUsageError(await run(['reindex']));
      expectUsageError(await run([]));
    });

    it('a missing or corrupt index', async () => {
      const dir = await makeProject();
      expectUsageError(await run(['search', 'x', '--dir', dir]), 'embecode index');
      expectUsageError(await run(['status', '--dir', dir]), 'embecode index');
      const corrupt = join(await makeTempDir(), 'index.db');
      const text = 'not a database at all\n'.repeat(400);
      await writeFile(corrupt, text);
      const refusal = `${corrupt} is not an embecode index (not a DuckDB database file); embecode leaves it untouched`;
      expectUsageError(await run(['search', 'x', '--db', corrupt]), refusal);
      expectUsageError(await run(['status', '--db', corrupt]), refusal);
      expectUsageError(await run(['index', dir, '--db', corrupt]), refusal);
      // A source file given to --db by mistake is refused and left as it was.
      const source = join(dir, 'src/server/routes.ts');
      const before = await readFile(source, 'utf8');
      expectUsageError(await run(['index', dir, '--db', source]), `${source} is not an embecode index`);
      expect(await readFile(source, 'utf8')).toBe(before);
      expect(existsSync(`${source}.wal`)).toBe(false);
    });

    it('a --db path that cannot be written, leaving nothing behind', async () => {
      const dir = await makeProject();
      const base = await makeTempDir();
      await writeFile(join(base, 'a-file'), 'x');
      expectUsageError(await run(['index', dir, '--db', join(base, 'a-file', 'sub', 'index.db')]), 'a-file');
      await mkdir(join(base, 'is-a-dir.db'));
      expectUsageError(await run(['index', dir, '--db', join(base, 'is-a-dir.db')]), 'is-a-dir.db');
      expect((await readdir(base)).sort()).toEqual(['a-file', 'is-a-dir.db']);
      expect(await readdir(join(base, 'is-a-dir.db'))).toEqual([]);
      // access(2) tells root that /proc is writable; creating a file there is what fails.
      expectUsageError(
        await run(['index', dir, '--db', '/proc/x.db']),
        'cannot write index /proc/x.db: files cannot be created in /proc',
      );
    });
  });

  it('names skipped files: a summary by reason, every path with --verbose and in --json', async () => {
    const dir = await makeProject();
    await writeFile(join(dir, 'logo.png'), Buffer.from([0x89, 0x50, 0x4e, 0x47, 0, 1, 2]));
    await writeFile(join(dir, 'big.txt'), 'x'.repeat(3000));
    await writeFile(join(dir, 'legacy.py'), Buffer.from('# café\ndef legacy_name():\n    pass\n', 'latin1'));
    const db = join(await makeTempDir(), 'index.db');
    const plain = await run(['index', dir, '--db', db, '--max-file-size', '2K']);
    expect(plain.code, plain.stderr).toBe(0);
    expect(plain.stdout).toContain('5 added, 0 updated, 0 deleted, 0 unchanged, 2 skipped');
    expect(plain.stderr).toBe(
      'embecode: skipped 2 files: 1 too-large (over 2048 bytes, see --max-file-size), 1 binary; --verbose names them',
    );
    const verbose = await run(['index', dir, '--db', db, '--max-file-size', '2048', '--verbose']);
    expect(verbose.stderr.split('\n').filter((l) => l !== '')).toEqual([
      'embecode: skipped big.txt: too-large (3000 bytes, limit 2048)',
      'embecode: skipped logo.png: binary (NUL byte in the first 8000 bytes)',
      'embecode: skipped 2 files: 1 too-large (over 2048 bytes, see --max-file-size), 1 binary; named above',
    ]);
    const json = await run(['index', dir, '--db', db, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      skipped: 1,
      skippedFiles: [{ path: 'logo.png', reason: 'binary', detail: 'NUL byte in the first 8000 bytes' }],
    });
    // The Latin-1 file was decoded and indexed.
    const found = await run(['search', 'legacy_name', '--db', db, '--mode', 'bm25', '--json']);
    expect((JSON.parse(found.stdout) as { results: { path: string }[] }).results[0]?.path).toBe('legacy.py');
    for (const bad of ['0', 'abc', '-5', '2T', '1.5M', '2G']) {
      expectUsageError(
        await run(['index', dir, '--db', db, '--max-file-size', bad]),
        '--max-file-size must be a size',
      );
    }
  });

  it('says which query limit left a search with nothing to look for', async () => {
    const dir = await makeProject();
    await run(['index', dir]);
    const one = await run(['search', 'a', '--dir', dir]);
    expect(one.code).toBe(0);
    expect(one.stderr.trim()).toBe(
      'embecode: note: nothing in the query is indexed: every word shorter than 2 characters (the minimum word length); no results',
    );
    const long = await run(['search', 'q'.repeat(100), '--dir', dir]);
    expect(long.stderr.trim()).toBe(
      'embecode: note: nothing in the query is indexed: every word longer than 64 characters (the maximum word length); no results',
    );
    expectUsageError(
      await run(['search', 'a'.repeat(20_000), '--dir', dir]),
      'query is 20000 characters long; the longest query searched is 4096 characters',
    );
  });

  it('prints help and exits 0', async () => {
    const help = await run(['--help']);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain('index');
    expect(help.stdout).toContain('search');
    expect(help.stdout).toContain('status');
  });
});
