import { describe, expect, it } from 'vitest';
import { createDefaultEmbedder } from '../../../src/index/embedder.js';
import { prepareFile } from '../../../src/index/prepare.js';
import type { SearchMode } from '../../../src/index/types.js';
import { ReferenceIndex } from '../../../src/tester/oracle/reference-index.js';

const embedder = createDefaultEmbedder();

async function referenceOf(files: Record<string, string>): Promise<ReferenceIndex> {
  let index = ReferenceIndex.empty(embedder);
  for (const [path, content] of Object.entries(files)) {
    index = index.withFile(await prepareFile(path, content, embedder));
  }
  return index;
}

const located = (hits: readonly { path: string; startLine: number; endLine: number }[]) =>
  hits.map((h) => `${h.path}:${h.startLine}-${h.endLine}`);

/**
 * Three one-chunk files: lengths 2, 3 and 1 (average 2), `alpha` in two of them (twice in the
 * second), `gamma` in the second only. Small enough to score by hand.
 */
const TINY = {
  'src/a.txt': 'alpha beta\n',
  'src/ab.txt': 'alpha alpha gamma\n',
  'lib/c.txt': 'delta\n',
};

describe('ReferenceIndex BM25', () => {
  // idf = ln((N - df + 0.5) / (df + 0.5) + 1); tf part = tf (k1 + 1) / (tf + k1 (1 - b + b len / avgdl)).
  const idfAlpha = Math.log((3 - 2 + 0.5) / (2 + 0.5) + 1); // ln 1.6
  const idfGamma = Math.log((3 - 1 + 0.5) / (1 + 0.5) + 1); // ln 8/3
  // src/a.txt: tf 1, len 2 = avgdl: 2.2 / (1 + 1.2) = 1.
  const alphaInA = idfAlpha * 1;
  // src/ab.txt: tf 2, len 3: 4.4 / (2 + 1.2 (0.25 + 0.75 * 1.5)) = 4.4 / 3.65.
  const alphaInAb = (idfAlpha * 4.4) / 3.65;
  // src/ab.txt, gamma: tf 1, len 3: 2.2 / (1 + 1.65) = 2.2 / 2.65.
  const gammaInAb = (idfGamma * 2.2) / 2.65;

  it('scores one term by the formula, best first', async () => {
    const search = await (await referenceOf(TINY)).search('alpha', { mode: 'bm25' });
    expect(located(search.expected)).toEqual(['src/ab.txt:1-1', 'src/a.txt:1-1']);
    expect(search.expected[0]?.score).toBeCloseTo(alphaInAb, 12);
    expect(search.expected[1]?.score).toBeCloseTo(alphaInA, 12);
  });

  it('sums the terms of a query, each counted once however often the query repeats it', async () => {
    const index = await referenceOf(TINY);
    const once = await index.search('alpha gamma', { mode: 'bm25' });
    const twice = await index.search('gamma alpha GAMMA gamma', { mode: 'bm25' });
    expect(once.expected[0]?.score).toBeCloseTo(alphaInAb + gammaInAb, 12);
    expect(twice.expected).toEqual(once.expected);
  });

  it('takes N, avgdl and df over the whole index, whatever the path prefix', async () => {
    const search = await (await referenceOf(TINY)).search('alpha', { mode: 'bm25', pathPrefix: 'src/ab' });
    expect(located(search.expected)).toEqual(['src/ab.txt:1-1']);
    expect(search.expected[0]?.score).toBeCloseTo(alphaInAb, 12);
  });

  it('finds nothing for a word in no file', async () => {
    const search = await (await referenceOf(TINY)).search('omega', { mode: 'bm25' });
    expect(search.expected).toEqual([]);
  });
});

describe('ReferenceIndex path prefix', () => {
  const FILES = {
    'src/a.ts': 'export function parseConfig() { return config }\n',
    'src/ab.ts': 'export function parseConfigs() { return config }\n',
    'src/a/b.ts': 'export function loadConfig() { return config }\n',
    'lib/c.ts': 'export function config() { return config }\n',
  };

  it.each<[string, string[]]>([
    ['src/', ['src/a.ts', 'src/a/b.ts', 'src/ab.ts']],
    ['src/a', ['src/a.ts', 'src/a/b.ts', 'src/ab.ts']], // a string prefix, not a directory
    ['src/a/', ['src/a/b.ts']],
    ['src/a.ts', ['src/a.ts']],
    ['', ['lib/c.ts', 'src/a.ts', 'src/a/b.ts', 'src/ab.ts']],
    ['nowhere/', []],
  ])('prefix %j keeps %j in every mode', async (prefix, paths) => {
    const index = await referenceOf(FILES);
    for (const mode of ['bm25', 'vector', 'hybrid'] as const) {
      const search = await index.search('config', { mode, pathPrefix: prefix });
      expect([...new Set(search.expected.map((h) => h.path))].sort(), mode).toEqual(paths);
    }
  });
});

describe('ReferenceIndex results', () => {
  const MANY = Object.fromEntries(
    Array.from({ length: 12 }, (_, i) => [
      `src/f${String(i).padStart(2, '0')}.ts`,
      `const shared${i} = 'shared word';\n`,
    ]),
  );

  it.each<SearchMode>(['bm25', 'vector', 'hybrid'])(
    '%s cuts at topK and keeps the whole ranking',
    async (mode) => {
      const index = await referenceOf(MANY);
      const search = await index.search('shared word', { mode, topK: 5 });
      expect(search.expected).toHaveLength(5);
      if (search.mode !== 'hybrid') {
        expect(search.ranking).toHaveLength(12);
        expect(search.expected).toEqual(search.ranking.slice(0, 5));
      }
    },
  );

  it.each<SearchMode>(['bm25', 'vector', 'hybrid'])(
    '%s finds nothing for topK 0 or a query without terms',
    async (mode) => {
      const index = await referenceOf(MANY);
      expect((await index.search('shared', { mode, topK: 0 })).expected).toEqual([]);
      expect((await index.search('- + !', { mode })).expected).toEqual([]);
      expect((await index.search('', { mode })).expected).toEqual([]);
    },
  );

  it('orders equal scores by path in code units, then line', async () => {
    const index = await referenceOf({
      'src/b.ts': 'same words\n',
      'src/B.ts': 'same words\n',
      'src/a.ts': 'same words\n',
    });
    for (const mode of ['bm25', 'vector', 'hybrid'] as const) {
      const search = await index.search('same', { mode });
      expect(
        search.expected.map((h) => h.path),
        mode,
      ).toEqual(['src/B.ts', 'src/a.ts', 'src/b.ts']);
    }
  });

  it('scores hybrid results by BM25 and vector scores, each scaled by the best of its ranking', async () => {
    const index = await referenceOf(TINY);
    const search = await index.search('alpha', { mode: 'hybrid' });
    expect(search.mode).toBe('hybrid');
    if (search.mode !== 'hybrid') return;
    for (const hit of search.expected) {
      const lexical = search.bm25.find((h) => h.path === hit.path)?.score ?? 0;
      const semantic = search.vector.find((h) => h.path === hit.path)?.score ?? 0;
      const pathShare = hit.path.includes('alpha') ? 1 : 0;
      const raw =
        (0.6 * lexical) / (search.bm25[0]?.score ?? 1) +
        (0.4 * Math.max(semantic, 0)) / (search.vector[0]?.score ?? 1) +
        0.15 * pathShare;
      // Every TINY file is a .txt, which the query (no "docs" in it) holds back.
      expect(hit.score).toBeCloseTo(raw * 0.8, 6);
    }
    expect(search.expected.map((h) => h.score)).toEqual(
      [...search.expected.map((h) => h.score)].sort((a, b) => b - a),
    );
  });

  it('adds the definitions bonus: 1 for the exact identifier, 0.25 in another case style', async () => {
    const index = await referenceOf({
      'src/use.ts': 'parseConfig(parseConfig(parseConfig(x)))\nparse config parse config\n',
      'src/def.py': 'def parse_config(text):\n    return text\n',
      'src/def.ts': 'export function parseConfig(text) {\n  return text\n}\n',
    });
    const search = await index.search('parseConfig', { mode: 'hybrid' });
    if (search.mode !== 'hybrid') throw new Error('unreachable');
    expect(search.expected[0]?.path).toBe('src/def.ts');
    const bonus = (path: string) =>
      (search.expected.find((h) => h.path === path)?.score ?? 0) -
      (search.fused.find((h) => h.path === path)?.score ?? 0);
    expect(bonus('src/def.ts')).toBeCloseTo(1, 6);
    expect(bonus('src/def.py')).toBeCloseTo(0.25, 6);
    expect(bonus('src/use.ts')).toBe(0);
    const plain = await index.search('parseConfig', { mode: 'bm25' });
    expect(plain.expected[0]?.path).toBe('src/use.ts');
  });

  it('finds nothing in any mode for a query whose terms are in no chunk', async () => {
    const index = await referenceOf(TINY);
    for (const mode of ['bm25', 'vector', 'hybrid'] as const) {
      expect((await index.search('zzqqxv', { mode })).expected).toEqual([]);
    }
  });
});

describe('ReferenceIndex states', () => {
  it('withFile replaces a file, without deletes it, and neither changes the original', async () => {
    const before = await referenceOf(TINY);
    const replaced = before.withFile(await prepareFile('src/a.txt', 'omega\n', embedder));
    const deleted = before.without('src/ab.txt');
    expect(located((await before.search('alpha', { mode: 'bm25' })).expected)).toEqual([
      'src/ab.txt:1-1',
      'src/a.txt:1-1',
    ]);
    expect(located((await replaced.search('alpha', { mode: 'bm25' })).expected)).toEqual(['src/ab.txt:1-1']);
    expect(located((await replaced.search('omega', { mode: 'bm25' })).expected)).toEqual(['src/a.txt:1-1']);
    expect(located((await deleted.search('alpha', { mode: 'bm25' })).expected)).toEqual(['src/a.txt:1-1']);
    expect(deleted.paths).toEqual(['lib/c.txt', 'src/a.txt']);
    expect(before.paths).toEqual(['lib/c.txt', 'src/a.txt', 'src/ab.txt']);
  });

  it('a deletion changes the corpus statistics of the files that remain', async () => {
    const deleted = (await referenceOf(TINY)).without('lib/c.txt');
    // N = 2, avgdl = 2.5, df(alpha) = 2: src/a.txt scores ln(1.2) * 2.2 / (1 + 1.2 (0.25 + 0.75 * 0.8)).
    const expected = (Math.log((2 - 2 + 0.5) / 2.5 + 1) * 2.2) / (1 + 1.2 * (0.25 + 0.6));
    const search = await deleted.search('alpha', { mode: 'bm25', pathPrefix: 'src/a.' });
    expect(search.expected[0]?.score).toBeCloseTo(expected, 12);
  });

  it('without an unknown path is the same state', async () => {
    const index = await referenceOf(TINY);
    expect(index.without('nope.ts')).toBe(index);
  });
});
