import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { afterAll, afterEach, describe, expect, test } from 'vitest';
import { EXIT_LOCKED, EXIT_USAGE, parseOwnerArgs } from '../helpers/owner-process.js';
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { IpcReader } from '../src/strategies/ipc.js';
import { buildIndex, PROFILE_QUERIES, type ReaderSearch, searchReadOnly } from './support/index-fixture.js';
import { expectEmbecodeLocked, rejectionOf } from './support/lock-assertions.js';
import {
  assertNoSurvivors,
  type OwnerHandle,
  OwnerStartError,
  probeOpen,
  startOwner,
  stopAllOwners,
} from './support/owner.js';
import { makeTempDir, removeTempDirs } from './support/temp-dir.js';

/**
 * Two real OS processes on one real index: an owner child (dist/helpers/owner-process.js) holding it
 * read-write, and this test process acting as the reader. See specs/concurrent-process-test.md.
 */

afterEach(async () => {
  await stopAllOwners();
  await removeTempDirs();
});

afterAll(() => {
  assertNoSurvivors();
});

interface ReaderContext {
  readonly dbPath: string;
  /** The owner child, holding the index read-write (and whatever its strategy flags add). */
  readonly owner: OwnerHandle;
  readonly queries: typeof PROFILE_QUERIES;
}

interface ReaderStrategy {
  readonly name: string;
  /** Extra owner-process flags this strategy needs (say, to serve searches). */
  readonly ownerFlags: readonly string[];
  /** `locked`: pinned to fail with DuckDB's lock conflict. `results`: must find the file. */
  readonly expect: 'locked' | 'results';
  /** Runs one vector and one BM25 search as a reader while the owner holds the index. */
  readonly search: (context: ReaderContext) => Promise<ReaderSearch>;
}

/**
 * One row per way a reader can search while the owner holds the index. `readonly-direct` is the
 * naive design and is pinned to fail: the day DuckDB lets a READ_ONLY open coexist with another
 * process's read-write one, this test turns red and the row must change. The strategies work
 * (issue 5) adds its `ipc` row here, with `expect: 'results'`.
 */
const strategies: readonly ReaderStrategy[] = [
  {
    name: 'readonly-direct',
    ownerFlags: [],
    expect: 'locked',
    search: ({ dbPath, queries }) => searchReadOnly(dbPath, queries),
  },
  {
    // The owner child serves searches from its own connection over <dir>/ipc/owner.sock.
    name: 'ipc',
    ownerFlags: ['--serve-ipc'],
    expect: 'results',
    search: async ({ dbPath, owner, queries }) => {
      const reader = new IpcReader({ dbPath, workDir: dirname(dbPath), embedder: createDefaultEmbedder() });
      await reader.open();
      try {
        // The answers come from the owner process itself: this process never opens the file.
        expect((await reader.status()).pid).toBe(owner.pid);
        const vector = await reader.search(queries.vector, { mode: 'vector' });
        const bm25 = await reader.search(queries.bm25, { mode: 'bm25' });
        return { vector, bm25 };
      } finally {
        await reader.close();
      }
    },
  },
];

describe('reader can search while owner holds connection', () => {
  for (const strategy of strategies) {
    test(`${strategy.name}: expect ${strategy.expect}`, async () => {
      const { dbPath } = await buildIndex(await makeTempDir());
      const owner = await startOwner(dbPath, strategy.ownerFlags);
      const context: ReaderContext = { dbPath, owner, queries: PROFILE_QUERIES };

      if (strategy.expect === 'locked') {
        expectEmbecodeLocked(await rejectionOf(strategy.search(context)), owner.pid);
      } else {
        const found = await strategy.search(context);
        expect(found.bm25[0]?.path).toBe('src/user-profile.ts');
        expect(found.vector[0]?.path).toBe('src/user-profile.ts');
      }

      // The reader's attempt did not disturb the owner: it still closes cleanly.
      expect(await owner.stop()).toMatchObject({ exitCode: 0, stderr: '' });
    });
  }
});

test('reader sees owner-written data', async () => {
  const dir = await makeTempDir();
  const { dbPath } = await buildIndex(dir);
  const contentFile = join(dir, 'flux.ts');
  await writeFile(
    contentFile,
    'export function calibrateQuasarFluxCapacitor(gigawatts: number): number {\n  return gigawatts * 1.21;\n}\n',
  );

  const owner = await startOwner(dbPath, ['--index-file', 'src/flux.ts', contentFile]);
  expect(await owner.stop()).toMatchObject({ exitCode: 0, stderr: '' });
  // A clean close checkpoints: everything is in the main file, no WAL is left.
  expect(existsSync(`${dbPath}.wal`)).toBe(false);

  const found = await searchReadOnly(dbPath, {
    bm25: 'calibrateQuasarFluxCapacitor',
    vector: 'calibrate quasar flux capacitor',
  });
  expect(found.bm25.map((r) => r.path)).toEqual(['src/flux.ts']);
  expect(found.bm25[0]?.preview).toContain('calibrateQuasarFluxCapacitor');
  expect(found.vector[0]?.path).toBe('src/flux.ts');
  // Older data is still there next to the new file.
  const older = await searchReadOnly(dbPath, PROFILE_QUERIES);
  expect(older.bm25[0]?.path).toBe('src/user-profile.ts');
});

describe('owner-process helper', () => {
  test.each([
    {
      argv: ['/x.db'],
      expected: { dbPath: '/x.db', mode: 'owner', raw: false, openVia: 'options', checkpoint: false },
    },
    {
      argv: ['/x.db', '--mode', 'reader', '--raw', '--open-via', 'attach'],
      expected: { mode: 'reader', raw: true },
    },
    {
      argv: ['/x.db', '--index-file', 'a.ts', '/tmp/a', '--checkpoint'],
      expected: { indexFiles: [{ path: 'a.ts', contentFile: '/tmp/a' }], checkpoint: true },
    },
  ])('parses $argv', ({ argv, expected }) => {
    expect(parseOwnerArgs(argv)).toMatchObject(expected);
  });

  test.each([
    [[]],
    [['/x.db', '/y.db']],
    [['/x.db', '--mode']],
    [['/x.db', '--mode', 'writer']],
    [['/x.db', '--index-file', 'a.ts']],
    [['/x.db', '--mode', 'reader', '--checkpoint']],
    [['/x.db', '--frobnicate']],
  ])('refuses %j', (argv) => {
    expect(() => parseOwnerArgs(argv)).toThrow(expect.objectContaining({ kind: 'usage' }));
  });

  test('a start-up failure is one line on stderr and a non-zero exit, never a hang', async () => {
    const dir = await makeTempDir();
    const cases = [
      {
        flags: ['--mode', 'sideways'],
        exitCode: EXIT_USAGE,
        line: /^owner-process: usage: --mode is owner or reader/,
      },
      { flags: ['--mode', 'reader'], exitCode: 1, line: /^owner-process: missing: no index at / },
    ];
    for (const { flags, exitCode, line } of cases) {
      const error = await rejectionOf(startOwner(join(dir, 'none.db'), flags, { readyTimeoutMs: 5000 }));
      expect(error).toBeInstanceOf(OwnerStartError);
      const { exit } = error as OwnerStartError;
      expect(exit.exitCode).toBe(exitCode);
      expect(exit.stderr).toMatch(line);
      expect(exit.stderr.trimEnd().split('\n')).toHaveLength(1);
    }
    expect(existsSync(join(dir, 'none.db'))).toBe(false);
  });

  test('a second owner on a held index exits with code 3, naming the holder', async () => {
    const { dbPath } = await buildIndex(await makeTempDir());
    const owner = await startOwner(dbPath);
    const probe = await probeOpen(dbPath);
    expect(probe.opened).toBe(false);
    if (probe.opened) return;
    expect(probe.exit.exitCode).toBe(EXIT_LOCKED);
    expect(probe.exit.stderr).toMatch(/^owner-process: locked: .*Conflicting lock is held/);
    expect(probe.exit.stderr).toContain(`(PID ${owner.pid})`);
    expect(await owner.stop()).toMatchObject({ exitCode: 0 });
  });
});
