import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { promisify } from 'node:util';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { Database } from '../../src/index/database.js';
import { definedNames } from '../../src/index/definitions.js';
import { createDefaultEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import { type Hit, hybridScore, rankHybrid, SEMANTIC_FLOOR, Searcher } from '../../src/index/search.js';
import type { PreparedFile, SearchMode, SearchOptions, SearchResult } from '../../src/index/types.js';
import { VectorCache } from '../../src/index/vector-cache.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const embedder = createDefaultEmbedder();
const execFileAsync = promisify(execFile);
const MODES: readonly SearchMode[] = ['vector', 'bm25', 'hybrid'];
const opened: Database[] = [];

afterEach(async () => {
  for (const db of opened.splice(0)) await db.close();
  await removeTempDirs();
});

/** Files sharing most of their vocabulary, so that a ranking has to find the one that matters. */
const CORPUS: Record<string, string> = {
  'src/http/client.ts': `export async function sendRequest(url: string, body: unknown): Promise<Response> {
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  if (!response.ok) throw new Error('request failed: ' + response.status);
  return response;
}
`,
  'src/http/retry.ts': `export async function retryRequest(url: string, attempts: number): Promise<Response> {
  for (let attempt = 0; attempt < attempts; attempt++) {
    const response = await fetch(url);
    if (response.ok) return response;
  }
  throw new Error('request failed after retries');
}
`,
  'src/config/load.ts': `export function loadConfig(path: string): Config {
  const text = readFileSync(path, 'utf8');
  const config = JSON.parse(text) as Config;
  return normaliseConfigDefaults(config);
}
`,
  'src/config/zq.ts': `export function parseZqxwvSettings(text: string): Config {
  const config = JSON.parse(text) as Config;
  return config;
}
`,
  'lib/geometry.py': `def polygon_area(points):
    twice = 0
    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):
        twice += x1 * y2 - x2 * y1
    return abs(twice) / 2
`,
  'docs/notes.md': `# Notes

The request client sends JSON bodies and the retry helper repeats failed requests.
Configuration is loaded from a JSON file.
`,
};

async function indexCorpus(
  files: Record<string, string> = CORPUS,
  cacheVectors = true,
): Promise<{ path: string; owner: Database; searcher: Searcher }> {
  const path = join(await makeTempDir(), 'index.db');
  const owner = await Database.open(path, {
    mode: 'owner',
    dimensions: embedder.dimensions,
    embedder: embedder.name,
    cacheVectors,
  });
  opened.push(owner);
  const prepared = await Promise.all(Object.entries(files).map(([p, c]) => prepareFile(p, c, embedder)));
  await owner.upsertFiles(prepared);
  return { path, owner, searcher: new Searcher(owner, embedder) };
}

async function openReader(path: string): Promise<Searcher> {
  const reader = await Database.open(path, { mode: 'reader' });
  opened.push(reader);
  return new Searcher(reader, embedder);
}

describe('Searcher', () => {
  it('ranks the file holding a rare identifier first, in bm25 and in hybrid', async () => {
    const { searcher } = await indexCorpus();
    for (const mode of ['bm25', 'hybrid'] as const) {
      const results = await searcher.search('parseZqxwvSettings', { mode });
      expect(results[0]?.path, mode).toBe('src/config/zq.ts');
    }
    const [first] = await searcher.search('polygon_area', { mode: 'bm25' });
    expect(first?.path).toBe('lib/geometry.py');
  });

  it('ranks near-duplicate text above unrelated text in vector search', async () => {
    const { searcher } = await indexCorpus();
    // Reworded and renamed, but the same code as src/http/retry.ts.
    const query = `async function retryRequests(url, maxAttempts) {
      for (let i = 0; i < maxAttempts; i++) { const response = await fetch(url); if (response.ok) return response; }
      throw new Error('request failed after retries'); }`;
    const results = await searcher.search(query, { mode: 'vector', topK: 10 });
    const rank = (path: string) => results.findIndex((r) => r.path === path);
    expect(rank('src/http/retry.ts')).toBe(0);
    expect(rank('lib/geometry.py') === -1 || rank('lib/geometry.py') > rank('src/http/retry.ts')).toBe(true);
    expect(results[0]?.score).toBeGreaterThan(0.5);
  });

  it('returns path, line range, score and a short preview, best first, at most topK', async () => {
    const { searcher } = await indexCorpus();
    for (const mode of MODES) {
      const results = await searcher.search('request response fetch', { mode, topK: 2 });
      expect(results.length, mode).toBe(2);
      for (const r of results) {
        expect(r.startLine).toBeGreaterThanOrEqual(1);
        expect(r.endLine).toBeGreaterThanOrEqual(r.startLine);
        expect(r.preview.split('\n').length).toBeLessThanOrEqual(3);
        expect(r.preview.length).toBeLessThanOrEqual(200);
        expect(r.preview.length).toBeGreaterThan(0);
      }
      expect((results[0]?.score ?? 0) >= (results[1]?.score ?? 0), mode).toBe(true);
    }
    const [hit] = await searcher.search('polygon_area', { mode: 'bm25', topK: 1 });
    expect(hit).toMatchObject({ path: 'lib/geometry.py', startLine: 1, endLine: 5 });
    expect(hit?.preview).toBe(
      'def polygon_area(points):\n    twice = 0\n    for (x1, y1), (x2, y2) in zip(points, points[1:] + points[:1]):',
    );
  });

  it('filters by path prefix in every mode', async () => {
    const { searcher } = await indexCorpus();
    for (const mode of MODES) {
      const results = await searcher.search('request config JSON', {
        mode,
        topK: 10,
        pathPrefix: 'src/http/',
      });
      expect(results.length, mode).toBeGreaterThan(0);
      expect(
        results.every((r) => r.path.startsWith('src/http/')),
        mode,
      ).toBe(true);
      expect(await searcher.search('request', { mode, pathPrefix: 'nowhere/' }), mode).toEqual([]);
    }
  });

  it('returns an empty list for an empty or punctuation-only query', async () => {
    const { searcher } = await indexCorpus();
    for (const mode of MODES) {
      for (const query of ['', '   ', '(){}[];,.!?', '- + * /', 'x']) {
        expect(await searcher.search(query, { mode }), `${mode} ${JSON.stringify(query)}`).toEqual([]);
      }
    }
  });

  it('returns an empty list from an empty index, and for topK 0', async () => {
    const { searcher } = await indexCorpus({});
    for (const mode of MODES) expect(await searcher.search('loadConfig', { mode })).toEqual([]);
    const full = await indexCorpus();
    expect(await full.searcher.search('loadConfig', { topK: 0 })).toEqual([]);
  });

  it('gives the same results in the owner (vector cache) and in a reader (SQL)', async () => {
    const { path, owner, searcher } = await indexCorpus();
    const queries = ['request failed', 'loadConfig', 'polygon area points', 'JSON config'];
    const fromCache = [];
    for (const mode of MODES)
      for (const query of queries) fromCache.push(await searcher.search(query, { mode, topK: 5 }));
    expect((await owner.vectorCache())?.size).toBe((await owner.stats()).chunks);
    await owner.close();
    const reader = await openReader(path);
    let i = 0;
    for (const mode of MODES) {
      for (const query of queries) {
        const cached = fromCache[i++] ?? [];
        const fromSql = await reader.search(query, { mode, topK: 5 });
        expect(cached.length, `${mode} ${query}`).toBeGreaterThan(0);
        expect(
          cached.map((r) => [r.path, r.startLine]),
          `${mode} ${query}`,
        ).toEqual(fromSql.map((r) => [r.path, r.startLine]));
        cached.forEach((r, j) => {
          expect(r.score).toBeCloseTo(fromSql[j]?.score ?? Number.NaN, 5);
        });
      }
    }
  });

  it('keeps the vector cache in step with writes and deletes', async () => {
    const { owner, searcher } = await indexCorpus();
    await searcher.search('warm the cache', { mode: 'vector' });
    const cache = await owner.vectorCache();
    const before = cache?.size ?? 0;
    await owner.upsertFiles([
      await prepareFile('src/new.ts', 'export const brandNewFrobnicator = 1;\n', embedder),
    ]);
    expect(cache?.size).toBe(before + 1);
    const [found] = await searcher.search('brandNewFrobnicator', { mode: 'vector' });
    expect(found?.path).toBe('src/new.ts');
    await owner.upsertFiles([
      await prepareFile('src/new.ts', 'export const renamedFrobnicator = 2;\n', embedder),
    ]);
    expect(cache?.size).toBe(before + 1);
    await owner.deleteFiles(['src/new.ts', 'src/http/client.ts']);
    expect(cache?.size).toBe(before - 1);
    const results = await searcher.search('brandNewFrobnicator sendRequest', { mode: 'vector', topK: 50 });
    expect(results.some((r) => r.path === 'src/new.ts' || r.path === 'src/http/client.ts')).toBe(false);
  });

  it('loads the vector cache while writes are in flight without losing or doubling them', async () => {
    const { owner, searcher } = await indexCorpus();
    const before = (await owner.stats()).chunks;
    const write = owner.upsertFiles([
      await prepareFile('src/w1.ts', 'export const inFlightOne = 1;\n', embedder),
    ]);
    const search = searcher.search('inFlightOne', { mode: 'vector' });
    const second = owner.upsertFiles([
      await prepareFile('src/w2.ts', 'export const inFlightTwo = 2;\n', embedder),
    ]);
    await Promise.all([write, search, second]);
    expect((await owner.vectorCache())?.size).toBe(before + 2);
    for (const [query, path] of [
      ['inFlightOne', 'src/w1.ts'],
      ['inFlightTwo', 'src/w2.ts'],
    ] as const) {
      expect((await searcher.search(query, { mode: 'vector' }))[0]?.path).toBe(path);
    }
  });

  it('sees a write as soon as it is acknowledged, in every mode', async () => {
    const { owner, searcher } = await indexCorpus();
    for (const mode of MODES) await searcher.search('anything at all', { mode });
    await owner.upsertFiles([
      await prepareFile('src/late.ts', 'export function lateArrivalXyz() {}\n', embedder),
    ]);
    for (const mode of MODES) {
      const [first] = await searcher.search('lateArrivalXyz', { mode });
      expect(first?.path, mode).toBe('src/late.ts');
    }
  });
});

/** What a result list is compared by: everything but the last bits of the score. */
function sameList(actual: readonly SearchResult[], expected: readonly SearchResult[]): boolean {
  return (
    actual.length === expected.length &&
    actual.every((r, i) => {
      const e = expected[i] as SearchResult;
      return (
        r.path === e.path &&
        r.startLine === e.startLine &&
        r.endLine === e.endLine &&
        r.preview === e.preview &&
        Math.abs(r.score - e.score) < 1e-9
      );
    })
  );
}

describe('Searcher against concurrent writes', () => {
  const FLIP = 'src/flip/switch.ts';
  const VERSION_ONE = `export function zephyrQuillRequest(request: string) {
  return request + ' zephyr quill';
}
`;
  const VERSION_TWO = `export function marbleOtterConfig(config: string, response: Response) {
  const otter = config + ' marble otter';
  return otter + response.status;
}
`;
  const QUERIES: readonly [string, SearchOptions][] = [
    ['zephyrQuillRequest marbleOtterConfig request', { mode: 'hybrid', topK: 4 }],
    ['zephyr quill marble otter config', { mode: 'bm25', topK: 3 }],
    ['request response fetch', { mode: 'vector', topK: 3 }],
    ['marble otter zephyr request', { mode: 'hybrid', topK: 3, pathPrefix: 'src/' }],
    ['config response', { mode: 'bm25', topK: 10, pathPrefix: 'src/' }],
    ['zephyr quill request', { mode: 'vector', topK: 10 }],
  ];

  it.each([
    ['with', true],
    ['without', false],
  ])(
    'returns, for every search racing a replace, the list of one committed state (%s vector cache)',
    async (_, cacheVectors) => {
      const versions = [VERSION_ONE, VERSION_TWO];
      // Each state on its own, from scratch: what a search must return when it reads that state.
      const expected: SearchResult[][][] = [];
      for (const version of versions) {
        // Scored the same way (cache in JS, or SQL), since the two differ in the last float bits.
        const { searcher } = await indexCorpus({ ...CORPUS, [FLIP]: version }, cacheVectors);
        expected.push(await Promise.all(QUERIES.map(([q, o]) => searcher.search(q, o))));
      }
      QUERIES.forEach((_, i) => {
        // The two states must be told apart by every query, or the test would prove nothing.
        expect(sameList(expected[0]?.[i] ?? [], expected[1]?.[i] ?? []), `query ${i}`).toBe(false);
      });

      const { owner, searcher } = await indexCorpus(CORPUS, cacheVectors);
      const prepared = await Promise.all(versions.map((v) => prepareFile(FLIP, v, embedder)));
      await owner.upsertFiles([prepared[0] as PreparedFile]);
      await owner.vectorCache();
      let writing = true;
      let writes = 0;
      const writer = (async () => {
        while (writing) await owner.upsertFiles([prepared[++writes % 2] as PreparedFile]);
      })();
      const torn: string[] = [];
      let searches = 0;
      const searchLoop = async (offset: number) => {
        for (let round = 0; round < 30; round++) {
          const index = (round + offset) % QUERIES.length;
          const [query, options] = QUERIES[index] as [string, SearchOptions];
          const results = await searcher.search(query, options);
          searches++;
          if (!expected.some((state) => sameList(results, state[index] ?? []))) {
            torn.push(
              `${query} ${JSON.stringify(options)}: ${JSON.stringify(results.map((r) => [r.path, r.startLine]))}`,
            );
          }
        }
      };
      try {
        await Promise.all([0, 1, 2].map(searchLoop));
      } finally {
        writing = false;
        await writer;
      }
      expect(writes).toBeGreaterThan(10);
      expect(torn.slice(0, 5), `${torn.length} of ${searches} searches read no single state`).toEqual([]);
    },
  );
});

describe('Searcher ties', () => {
  const COPY = `export function duplicatedHelper(value: number) {
  return value * 2 + offsetValue;
}
`;
  const COPIES = ['src/b/copy.ts', 'lib/copy.ts', 'src/a/copy.ts', 'src/a/copy2.ts'];

  /** One index: the corpus, then each copy in its own write, in the order given. */
  async function indexWithCopies(order: readonly string[]): Promise<{ owner: Searcher; reader: Searcher }> {
    const { path, owner, searcher } = await indexCorpus();
    for (const copy of order) await owner.upsertFiles([await prepareFile(copy, COPY, embedder)]);
    // Deleting and re-adding a copy moves it to the highest ids.
    await owner.deleteFiles([order[0] as string]);
    await owner.upsertFiles([await prepareFile(order[0] as string, COPY, embedder)]);
    await owner.checkpoint();
    return { owner: searcher, reader: await openReaderBeside(path) };
  }

  /** A reader of a copy of the owner's file, so that owner and reader can both stay open. */
  async function openReaderBeside(path: string): Promise<Searcher> {
    const copy = `${path}.copy`;
    await execFileAsync('cp', [path, copy]); // in a child process: copying in-process drops the lock
    return openReader(copy);
  }

  const cases = (): [string, SearchOptions][] => {
    const out: [string, SearchOptions][] = [];
    for (const query of ['duplicatedHelper value offset', 'value', 'request value config'])
      for (const mode of MODES)
        for (const pathPrefix of [undefined, 'src/', 'src/a/'])
          for (const topK of [1, 3, 8])
            out.push([query, pathPrefix === undefined ? { mode, topK } : { mode, topK, pathPrefix }]);
    return out;
  };
  const shape = (results: readonly SearchResult[]) =>
    results.map((r) => `${r.path}:${r.startLine}-${r.endLine}`);

  it('orders exact duplicates the same way whatever order the index was written in', async () => {
    const first = await indexWithCopies(COPIES);
    const second = await indexWithCopies([...COPIES].reverse());
    for (const [query, options] of cases()) {
      const label = `${query} ${JSON.stringify(options)}`;
      const reference = shape(await first.owner.search(query, options));
      expect(reference.length, label).toBeGreaterThan(0);
      expect(shape(await second.owner.search(query, options)), `${label} owner`).toEqual(reference);
      expect(shape(await first.reader.search(query, options)), `${label} reader`).toEqual(reference);
      expect(shape(await second.reader.search(query, options)), `${label} reader`).toEqual(reference);
      const longer = shape(await first.owner.search(query, { ...options, topK: (options.topK ?? 10) + 5 }));
      expect(longer.slice(0, reference.length), `${label} prefix`).toEqual(reference);
    }
  });

  it('gives exact duplicates the same hybrid order in a fresh index and in one rebuilt from the same files', async () => {
    const files = { ...CORPUS, ...Object.fromEntries(COPIES.map((copy) => [copy, COPY])) };
    // Fresh: everything in one write.
    const fresh = await indexCorpus(files);
    await fresh.owner.checkpoint();
    // Rebuilt: other contents first, then every file deleted and written again one by one, in
    // reverse order, so ids, row order and the BM25 statistics' summation order all differ.
    const rebuilt = await indexCorpus(
      Object.fromEntries(Object.keys(files).map((path) => [path, `export const placeholder = '${path}';\n`])),
    );
    await rebuilt.owner.deleteFiles(Object.keys(files));
    for (const [path, content] of Object.entries(files).reverse()) {
      await rebuilt.owner.upsertFiles([await prepareFile(path, content, embedder)]);
    }
    await rebuilt.owner.checkpoint();
    const freshReader = await openReaderBeside(fresh.path);
    const rebuiltReader = await openReaderBeside(rebuilt.path);
    const hybridCases = cases().filter(
      ([, o]) => o.mode === 'hybrid' && o.pathPrefix !== 'src/a/' && [1, 3, 8].includes(o.topK ?? 0),
    );
    for (const [query, options] of hybridCases) {
      const label = `${query} ${JSON.stringify(options)}`;
      const reference = shape(await fresh.searcher.search(query, options));
      expect(reference.length, label).toBeGreaterThan(0);
      expect(shape(await rebuilt.searcher.search(query, options)), `${label} rebuilt`).toEqual(reference);
      expect(shape(await freshReader.search(query, options)), `${label} fresh reader`).toEqual(reference);
      expect(shape(await rebuiltReader.search(query, options)), `${label} rebuilt reader`).toEqual(reference);
    }
  });

  it('puts exact duplicates in path order, by code unit', async () => {
    const { owner } = await indexWithCopies(COPIES);
    for (const mode of ['bm25', 'vector'] as const) {
      const results = await owner.search('duplicatedHelper value offset', { mode, topK: 4 });
      expect(
        results.map((r) => r.path),
        mode,
      ).toEqual(['lib/copy.ts', 'src/a/copy.ts', 'src/a/copy2.ts', 'src/b/copy.ts']);
      expect(new Set(results.map((r) => r.score)).size, mode).toBeLessThanOrEqual(2);
    }
  });
});

describe('VectorCache', () => {
  const unit = (...xs: number[]) => {
    const v = new Float32Array(4);
    xs.forEach((x, i) => {
      v[i] = x;
    });
    const n = Math.hypot(...v);
    return v.map((x) => x / n);
  };
  const chunk = (id: number, path: string, embedding: Float32Array) => ({
    id: BigInt(id),
    path,
    startLine: id,
    endLine: id + 1,
    embedding,
  });

  it('ranks by inner product, ties by id, filters by prefix, and forgets removed chunks', () => {
    const cache = new VectorCache(4);
    cache.add(chunk(1, 'a/x.ts', unit(1, 0, 0, 0)));
    cache.add(chunk(2, 'b/y.ts', unit(1, 1, 0, 0)));
    cache.add(chunk(3, 'a/z.ts', unit(0, 0, 1, 0)));
    cache.add(chunk(4, 'b/w.ts', unit(1, 0, 0, 0)));
    const query = unit(1, 0, 0, 0);
    expect(cache.search(query, 3).map((h) => Number(h.id))).toEqual([1, 4, 2]);
    expect(cache.search(query, 10, 'b/').map((h) => h.path)).toEqual(['b/w.ts', 'b/y.ts']);
    expect(cache.search(query, 1)[0]).toMatchObject({ path: 'a/x.ts', startLine: 1, endLine: 2 });
    expect(cache.search(query, 1)[0]?.score).toBeCloseTo(1, 6);

    cache.remove(1n);
    cache.remove(99n);
    expect(cache.size).toBe(3);
    expect(cache.search(query, 10).map((h) => Number(h.id))).toEqual([4, 2, 3]);
    // Re-adding an id replaces it.
    cache.add(chunk(4, 'b/w.ts', unit(0, 0, 1, 0)));
    expect(cache.size).toBe(3);
    expect(cache.search(query, 1).map((h) => Number(h.id))).toEqual([2]);
  });

  it('grows past its first capacity and keeps the top K exact', () => {
    const cache = new VectorCache(4);
    for (let i = 1; i <= 3000; i++)
      cache.add(chunk(i, `f${i}.ts`, unit(i % 7, (i * 3) % 5, 1, (i * 11) % 13)));
    const query = unit(1, 2, 0, 3);
    const brute = [...Array(3000).keys()]
      .map((k) => {
        const i = k + 1;
        const v = unit(i % 7, (i * 3) % 5, 1, (i * 11) % 13);
        return { id: i, score: v.reduce((sum, x, d) => sum + x * (query[d] as number), 0) };
      })
      .sort((a, b) => b.score - a.score || a.id - b.id)
      .slice(0, 25);
    const hits = cache.search(query, 25);
    expect(hits.map((h) => h.score)).toEqual(hits.map((h) => h.score).sort((a, b) => b - a));
    hits.forEach((h, i) => {
      expect(h.score).toBeCloseTo(brute[i]?.score ?? Number.NaN, 5);
    });
  });
});

describe('definedNames', () => {
  it('finds real definitions (functions, classes, methods, types, module constants), not locals', () => {
    const content = [
      'export async function loadConfig(path) {',
      '  const subprocess = spawn(path);',
      '  let attempts = 0;',
      '}',
      'class Reader {',
      '  readAll(limit: number): string {',
      '    if (limit) {',
      '  }',
      '}',
      'export const DEFAULT_LIMIT = 10;',
      'type Größe = number;',
      'def fetch_active_user(x):',
      'func (r *T) ReadHTTP() {}',
    ].join('\n');
    expect([...definedNames(content)].sort()).toEqual(
      ['defaultlimit', 'fetchactiveuser', 'größe', 'loadconfig', 'readall', 'reader', 'readhttp'].sort(),
    );
  });
});

describe('hybridScore', () => {
  const base = { lexical: undefined, bestLexical: 0, pathShare: 0, secondary: false };

  it('counts a cosine below SEMANTIC_FLOOR as no similarity, even when it is the best one', () => {
    // FLOAT rounding of a chunk sharing nothing with the query: scaled by itself it was worth 0.4.
    expect(hybridScore({ ...base, semantic: 3e-9, bestSemantic: 3e-9 })).toBe(0);
    expect(hybridScore({ ...base, semantic: SEMANTIC_FLOOR / 2, bestSemantic: 0.5 })).toBe(0);
  });

  it('scales a real similarity by the best one', () => {
    expect(hybridScore({ ...base, semantic: 0.25, bestSemantic: 0.5 })).toBeCloseTo(0.2, 12);
    expect(hybridScore({ ...base, semantic: SEMANTIC_FLOOR, bestSemantic: SEMANTIC_FLOOR })).toBeCloseTo(
      0.4,
      12,
    );
  });
});

describe('rankHybrid', () => {
  // Few paths, words and score steps, so that paths share query words and scores tie often.
  const PATHS = [
    'src/a.ts',
    'src/retry/queue.ts',
    'tests/queue.test.ts',
    'docs/retry.md',
    'src/b/c.py',
    'lib/x.ts',
  ];
  // A chunk's place follows from its id, so that the two lists agree on it and places are unique.
  const poolArb = fc
    .uniqueArray(
      fc.record({ id: fc.integer({ min: 0, max: 60 }), score: fc.integer({ min: -3, max: 12 }) }),
      { maxLength: 40, selector: (h) => h.id },
    )
    .map((hits) =>
      hits
        .map(
          ({ id, score }): Hit => ({
            id: BigInt(id),
            path: PATHS[id % PATHS.length] as string,
            startLine: Math.floor(id / PATHS.length) + 1,
            endLine: Math.floor(id / PATHS.length) + 1,
            score: score / 4,
          }),
        )
        .sort((a, b) => b.score - a.score),
    );

  it('cut at k gives the first k of the whole ranking (property)', () => {
    fc.assert(
      fc.property(
        poolArb,
        poolArb,
        fc.constantFrom('retry queue', 'queue', 'test retry', 'docs', 'zzz'),
        fc.integer({ min: 1, max: 30 }),
        (lexical, semantic, query, k) => {
          const all = rankHybrid(lexical, semantic, query);
          expect(rankHybrid(lexical, semantic, query, k)).toEqual(all.slice(0, k));
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('Searcher ranking (issue 13)', () => {
  const PROCESSES: Record<string, string> = {
    'src/process/children.ts': `/** Kills every child subprocess when the parent process exits. */
export function killChildrenOnExit(children: Set<ChildProcess>): void {
  process.on('exit', () => {
    for (const child of children) child.kill('SIGKILL');
  });
}
`,
    'tests/process/children.test.ts': `// kill child process exit: the child process is killed when the parent process exits
it('kills the subprocess when the parent exits', async () => {
  const subprocess = spawn(process.execPath, ['child.js']);
  const subprocessExit = once(subprocess, 'exit');
  subprocess.kill();
  await subprocessExit;
});
`,
    'src/http/client.ts': CORPUS['src/http/client.ts'] as string,
    'src/config/load.ts': CORPUS['src/config/load.ts'] as string,
  };

  it('keeps a rare identifier that only BM25 finds at the top of hybrid', async () => {
    // Many files share the words of the identifier's parts, so the vector ranking prefers them;
    // the one file holding the identifier says a lot about other things.
    const unrelated = Array.from({ length: 40 }, (_, i) => `// polygon area ${i} geometry notes`).join('\n');
    const files: Record<string, string> = { 'src/rare.ts': `${unrelated}\nregisterQzxHandler(queue)\n` };
    for (let i = 0; i < 30; i++) {
      files[`src/handlers/h${i}.ts`] =
        `export function registerHandler${i}(handler: Handler, queue: Queue) {\n  return register(handler, queue);\n}\n`;
    }
    const { searcher } = await indexCorpus(files);
    const [lexical] = await searcher.search('registerQzxHandler', { mode: 'bm25' });
    expect(lexical?.path).toBe('src/rare.ts');
    const hybrid = await searcher.search('registerQzxHandler', { mode: 'hybrid', topK: 3 });
    expect(hybrid[0]?.path).toBe('src/rare.ts');
  });

  it('gives the definitions boost to real definitions only, not to a local sharing a word', async () => {
    const { searcher } = await indexCorpus(PROCESSES);
    const results = await searcher.search('kill subprocess when parent process exits', { mode: 'hybrid' });
    expect(results[0]?.path).toBe('src/process/children.ts');
  });

  /** Twenty short files calling `dispatchQueue`, and its one long definition, which ranks low. */
  const USERS: Record<string, string> = {
    'src/queue/dispatch.ts': `export function dispatchQueue(items: Item[]): void {\n${Array.from(
      { length: 40 },
      (_, i) => `  // step ${i}: polygon area geometry notes`,
    ).join('\n')}\n}\n`,
  };
  for (let i = 0; i < 20; i++) USERS[`src/use/u${i}.ts`] = `dispatchQueue(dispatchQueue(queue${i}))\n`;

  it('returns hybrid results in the order of the scores shown', async () => {
    const { searcher } = await indexCorpus({ ...CORPUS, ...PROCESSES, ...USERS });
    for (const query of [
      'dispatchQueue',
      'loadConfig request response',
      'kill subprocess when parent process exits',
    ]) {
      const scores = (await searcher.search(query, { mode: 'hybrid', topK: 20 })).map((r) => r.score);
      expect(scores, query).toEqual([...scores].sort((a, b) => b - a));
    }
  });

  it('makes every hybrid top-k a prefix of any larger k', async () => {
    const { searcher } = await indexCorpus({ ...CORPUS, ...PROCESSES, ...USERS });
    for (const query of ['dispatchQueue', 'request config', 'sendRequest response']) {
      const all = await searcher.search(query, { mode: 'hybrid', topK: 50 });
      for (const k of [1, 2, 3, 5, 8, 13]) {
        const top = await searcher.search(query, { mode: 'hybrid', topK: k });
        expect(top, `${query} k=${k}`).toEqual(all.slice(0, k));
      }
    }
  });

  it('answers a query whose terms occur nowhere with nothing, in every mode', async () => {
    const { searcher } = await indexCorpus();
    for (const mode of MODES) {
      expect(await searcher.search('frobnicatezz', { mode }), mode).toEqual([]);
    }
  });

  it('finds words in any script: CJK, Cyrillic, accented Latin, non-ASCII identifiers', async () => {
    const { searcher } = await indexCorpus({
      ...CORPUS,
      'src/ja.ts': '// 日本語の全文検索を行う\nexport function 検索する(query: string) {}\n',
      'src/ru.ts': '// Функция поиска файлов\nexport function найтиФайлы() {}\n',
      'src/fr.ts': '// Calcule la Größe et la durée\nexport function größeBerechnen() {}\n',
    });
    const cases: [string, string][] = [
      ['日本語 検索', 'src/ja.ts'],
      ['поиска ФАЙЛОВ', 'src/ru.ts'],
      ['DURÉE', 'src/fr.ts'],
      ['größeBerechnen', 'src/fr.ts'],
      ['найтиФайлы', 'src/ru.ts'],
    ];
    for (const [query, path] of cases) {
      for (const mode of MODES) {
        const [first] = await searcher.search(query, { mode });
        expect(first?.path, `${mode} ${query}`).toBe(path);
      }
    }
  });

  it('prefers the implementation to its tests unless the query asks for tests', async () => {
    const { searcher } = await indexCorpus(PROCESSES);
    const [implementation] = await searcher.search('kill child process exit', { mode: 'hybrid' });
    expect(implementation?.path).toBe('src/process/children.ts');
    const [test] = await searcher.search('test kill subprocess exit', { mode: 'hybrid' });
    expect(test?.path).toBe('tests/process/children.test.ts');
  });

  it('puts the implementation above a test or doc as relevant as it, unless the query asks for them', async () => {
    // The same text in three files ties in BM25 and vector search; without the preference the tie
    // goes to path order, which puts drain.spec.ts and the docs before drain.ts.
    const text = '// drain the queue: take items until it is empty\nexport const drainQueueOnce = 1;\n';
    const { searcher } = await indexCorpus({
      'src/queue/drain.spec.ts': text,
      'src/queue/drain.ts': text,
      'docs/drain.md': text,
    });
    const [implementation] = await searcher.search('drain queue items', { mode: 'hybrid' });
    expect(implementation?.path).toBe('src/queue/drain.ts');
    const [spec] = await searcher.search('drain queue spec', { mode: 'hybrid' });
    expect(spec?.path).toBe('src/queue/drain.spec.ts');
  });

  it("ranks the file whose path names the query's words above the same code elsewhere", async () => {
    // Identical chunks tie in BM25 and in vector search; only the path can tell them apart, and
    // without it the tie goes to path order (src/aa first).
    const code =
      'export function waitFor(ms: number) {\n  return new Promise((done) => setTimeout(done, ms));\n}\n';
    const { searcher } = await indexCorpus({
      'src/aa/helpers.ts': code,
      'src/retry/backoff.ts': code,
      'src/zz/misc.ts': code,
    });
    for (const query of ['backoff wait', 'retry wait']) {
      const [first] = await searcher.search(query, { mode: 'hybrid' });
      expect(first?.path, query).toBe('src/retry/backoff.ts');
    }
  });

  it('finds a word written in another inflection (light stemming)', async () => {
    const { searcher } = await indexCorpus({
      ...CORPUS,
      'src/net/resend.ts':
        '// Retries each failed call after a pause that doubles.\nexport function resendLater(call: Call) {}\n',
    });
    for (const mode of ['bm25', 'hybrid'] as const) {
      const [first] = await searcher.search('retrying failing calls', { mode });
      expect(first?.path, mode).toBe('src/net/resend.ts');
    }
  });

  it('matches the parts of an identifier in any script to the words of a query', async () => {
    const { searcher } = await indexCorpus({
      ...CORPUS,
      'src/ru.ts': '// Функция поиска\nexport function найтиФайлы() {}\n',
      'src/de.ts': '// Rechnet\nexport function größeBerechnen() {}\n',
    });
    const cases: [string, string][] = [
      ['найти файлы', 'src/ru.ts'],
      ['BERECHNEN größe', 'src/de.ts'],
    ];
    for (const [query, path] of cases) {
      for (const mode of ['bm25', 'hybrid'] as const) {
        const [first] = await searcher.search(query, { mode });
        expect(first?.path, `${mode} ${query}`).toBe(path);
      }
    }
  });

  it('orders paths with characters above U+FFFF and in U+E000-U+FFFF alike in the owner and in SQL', async () => {
    const copy = 'export const pathOrderProbe = 1;\n';
    const files = { 'src/\u{1F600}.ts': copy, 'src/\uFF5E.ts': copy, 'src/a.ts': copy };
    const { path, searcher } = await indexCorpus(files);
    const reader = await openReader(path);
    for (const mode of MODES) {
      const owner = (await searcher.search('pathOrderProbe', { mode })).map((r) => r.path);
      expect(owner, mode).toEqual(['src/a.ts', 'src/\uFF5E.ts', 'src/\u{1F600}.ts']);
      expect(
        (await reader.search('pathOrderProbe', { mode })).map((r) => r.path),
        mode,
      ).toEqual(owner);
    }
  });
});
