import { join } from 'node:path';
import { fc, test } from '@fast-check/vitest';
import { afterAll, describe, expect, it } from 'vitest';
import { Database } from '../../../src/index/database.js';
import { HashingEmbedder } from '../../../src/index/embedder.js';
import { prepareFile } from '../../../src/index/prepare.js';
import { Searcher } from '../../../src/index/search.js';
import type { SearchMode } from '../../../src/index/types.js';
import { compareVerdict, type Verdict } from '../../../src/tester/oracle/compare.js';
import { ReferenceIndex } from '../../../src/tester/oracle/reference-index.js';
import { makeTempDir, removeTempDirs } from '../../support/temp-dir.js';
import { PREFIXES, project, query } from './corpus.js';

/** ORACLE_RUNS raises the count for a longer hunt; 50 keeps the unit suite quick. */
const RUNS = Number(process.env.ORACLE_RUNS ?? 30);
/** The property's time limit: shrinking replays the searches many times, so allow it time. */
const TIME_LIMIT = Math.max(120_000, RUNS * 1_000);

/** Verdicts by mode, reported at the end so that a run shows how often hybrid was compared strictly. */
const tally = new Map<string, number>();

afterAll(async () => {
  for (const db of await Promise.all(databases.values())) db.close();
  await removeTempDirs();
  console.log('oracle verdicts:', Object.fromEntries([...tally].sort(([a], [b]) => (a < b ? -1 : 1))));
});

const search = fc.record({
  query,
  mode: fc.constantFrom<SearchMode>('bm25', 'vector', 'hybrid'),
  topK: fc.integer({ min: 1, max: 20 }),
  pathPrefix: fc.constantFrom(...PREFIXES),
});

/**
 * Owner Databases shared by all runs, one per (dimensions, vector cache): opening one costs more
 * than a run's searches. Each run deletes what it wrote, so later runs also check that deleted
 * rows of earlier ones never come back.
 */
const databases = new Map<string, Promise<Database>>();

function databaseFor(
  dimensions: number,
  cacheVectors: boolean,
  embedder: HashingEmbedder,
): Promise<Database> {
  const key = `${dimensions}/${cacheVectors}`;
  let db = databases.get(key);
  if (db === undefined) {
    db = makeTempDir('embecode-oracle-').then((dir) =>
      Database.open(join(dir, 'index.db'), {
        mode: 'owner',
        dimensions,
        embedder: embedder.name,
        cacheVectors,
      }),
    );
    databases.set(key, db);
  }
  return db;
}

/** Writes `files` to a shared owner Database and to a reference state, runs `body`, then deletes them again. */
async function withBoth(
  files: readonly (readonly [string, string])[],
  options: { dimensions: number; cacheVectors: boolean; maxLines: number; deleted?: readonly string[] },
  body: (searcher: Searcher, reference: ReferenceIndex) => Promise<void>,
): Promise<void> {
  const embedder = new HashingEmbedder({ dimensions: options.dimensions });
  const db = await databaseFor(options.dimensions, options.cacheVectors, embedder);
  try {
    let reference = ReferenceIndex.empty(embedder);
    const prepared = await Promise.all(
      files.map(([path, content]) => prepareFile(path, content, embedder, { maxLines: options.maxLines })),
    );
    // Two transactions in write order, then the deletions: chunk ids follow neither path order nor ranking.
    const half = Math.ceil(prepared.length / 2);
    await db.upsertFiles(prepared.slice(0, half));
    await db.upsertFiles(prepared.slice(half));
    for (const file of prepared) reference = reference.withFile(file);
    await db.deleteFiles(options.deleted ?? []);
    for (const path of options.deleted ?? []) reference = reference.without(path);
    await body(new Searcher(db, embedder), reference);
  } finally {
    await db.deleteFiles(files.map(([path]) => path));
  }
}

/** Fails with the difference, the search and both lists when the index's answer is not acceptable. */
async function expectAgreement(
  searcher: Searcher,
  reference: ReferenceIndex,
  options: { query: string; mode: SearchMode; topK: number; pathPrefix?: string | undefined },
): Promise<Verdict> {
  const { query: text, ...rest } = options;
  const actual = await searcher.search(text, rest);
  const verdict = compareVerdict(actual, await reference.search(text, rest));
  const key = `${options.mode} ${verdict.kind}${actual.length === 0 ? ' (empty)' : ''}`;
  tally.set(key, (tally.get(key) ?? 0) + 1);
  if (verdict.kind === 'differ') {
    expect.fail(
      [
        `${options.mode} search ${JSON.stringify(text)} topK ${options.topK} prefix ${JSON.stringify(options.pathPrefix)}:`,
        verdict.reason,
        ...verdict.table,
      ].join('\n'),
    );
  }
  return verdict;
}

describe('the reference index and the real index', () => {
  it.each([true, false])(
    'order copies of one file by path at every cut (vector cache %s)',
    async (cacheVectors) => {
      // Written in reverse path order, so that chunk ids order the copies the other way round.
      const files = ['src/z.ts', 'src/a.ts', 'src/_.ts', 'src/B.ts'].map(
        (path) => [path, 'export const same = words;\n'] as const,
      );
      await withBoth(files, { dimensions: 384, cacheVectors, maxLines: 60 }, async (searcher, reference) => {
        for (const mode of ['bm25', 'vector', 'hybrid'] as const) {
          for (const topK of [1, 2, 3, 4]) {
            expect(
              (await expectAgreement(searcher, reference, { query: 'same words', mode, topK })).kind,
            ).toBe('agree');
          }
        }
      });
    },
  );

  test.prop(
    {
      project,
      searches: fc.array(search, { minLength: 4, maxLength: 10 }),
      dimensions: fc.constantFrom(384, 24),
      cacheVectors: fc.boolean(),
    },
    // Interrupted (shrinking included) before the test times out, so a failure is still reported.
    { numRuns: RUNS, interruptAfterTimeLimit: TIME_LIMIT - 15_000 },
  )(
    'agree on every search',
    async ({ project, searches, dimensions, cacheVectors }) => {
      const settings = { dimensions, cacheVectors, maxLines: project.maxLines, deleted: project.deleted };
      await withBoth(project.files, settings, async (searcher, reference) => {
        for (const options of searches) await expectAgreement(searcher, reference, options);
      });
    },
    TIME_LIMIT,
  );
});
