import { describe, expect, it } from 'vitest';
import { createDefaultEmbedder } from '../../../src/index/embedder.js';
import { prepareFile } from '../../../src/index/prepare.js';
import type { SearchMode } from '../../../src/index/types.js';
import { compare, compareVerdict } from '../../../src/tester/oracle/compare.js';
import type { RankedChunk } from '../../../src/tester/oracle/ranking.js';
import { ReferenceIndex, type ReferenceSearch } from '../../../src/tester/oracle/reference-index.js';

const embedder = createDefaultEmbedder();

/** Files whose BM25 and vector scores for `QUERY` are far apart: every rank has one right answer. */
const FILES: Record<string, string> = {
  'src/one.ts': 'retry retry retry retry backoff\n',
  'src/two.ts': 'retry retry backoff jitter\n',
  'src/three.ts': 'retry jitter timeout deadline budget\n',
  'lib/four.ts': 'retry with some other words around it here\n',
  'lib/gone.ts': 'retry retry retry\n',
};
const QUERY = 'retry';

async function stateOf(files: Record<string, string>): Promise<ReferenceIndex> {
  let index = ReferenceIndex.empty(embedder);
  for (const [path, content] of Object.entries(files)) {
    index = index.withFile(await prepareFile(path, content, embedder));
  }
  return index;
}

const copy = (hits: readonly RankedChunk[]): RankedChunk[] => hits.map((h) => ({ ...h }));

describe.each<SearchMode>(['bm25', 'vector', 'hybrid'])('compare in %s mode', (mode) => {
  async function answers(
    pathPrefix?: string,
  ): Promise<{ reference: ReferenceSearch; before: ReferenceSearch }> {
    const before = await (await stateOf(FILES)).search(QUERY, { mode, topK: 3, pathPrefix });
    const after = await (await stateOf(FILES))
      .without('lib/gone.ts')
      .search(QUERY, { mode, topK: 3, pathPrefix });
    return { reference: after, before };
  }

  it('agrees with the reference itself', async () => {
    const { reference } = await answers();
    expect(reference.expected).toHaveLength(3);
    expect(compareVerdict(copy(reference.expected), reference)).toEqual({ kind: 'agree' });
  });

  it('catches a deleted chunk still returned', async () => {
    const { reference, before } = await answers();
    const stale = before.expected.find((h) => h.path === 'lib/gone.ts');
    expect(stale, 'the deleted file ranks in the top 3 before its deletion').toBeDefined();
    const actual = [stale as RankedChunk, ...copy(reference.expected).slice(0, 2)];
    const difference = compare(actual, reference);
    expect(difference?.reason).toMatch(/^rank 1: got lib\/gone\.ts:1-1 .*no file lib\/gone\.ts/);
    expect(difference?.table.join('\n')).toContain('lib/gone.ts:1-1');
  });

  it('catches a wrong line range', async () => {
    const { reference } = await answers();
    const actual = copy(reference.expected);
    actual[1] = { ...(actual[1] as RankedChunk), endLine: 2 };
    expect(compare(actual, reference)?.reason).toMatch(/^rank 2: .*ends at line 1, not 2/);
  });

  it('catches two clearly different scores in swapped order', async () => {
    const { reference } = await answers();
    const actual = copy(reference.expected);
    [actual[0], actual[1]] = [actual[1] as RankedChunk, actual[0] as RankedChunk];
    const first = reference.expected[0] as RankedChunk;
    expect(compare(actual, reference)?.reason).toMatch(
      new RegExp(`^rank 1: expected ${first.path.replace('.', '\\.')}:1-1 \\(score `),
    );
  });

  it('catches a result outside the path prefix', async () => {
    const { reference } = await answers('src/');
    const actual = copy(reference.expected);
    actual[2] = { path: 'lib/four.ts', startLine: 1, endLine: 1, score: (actual[2] as RankedChunk).score };
    expect(compare(actual, reference)?.reason).toMatch(/^rank 3: .*outside the path prefix "src\/"/);
  });

  it('catches a missing result', async () => {
    const { reference } = await answers();
    const difference = compare(copy(reference.expected).slice(0, 2), reference);
    expect(difference?.reason).toBe('expected 3 results, got 2');
    expect(difference?.table.at(-1)).toMatch(/^\* {4}3 .*\| -$/);
  });

  it('catches a wrong score', async () => {
    const { reference } = await answers();
    const actual = copy(reference.expected);
    actual[0] = { ...(actual[0] as RankedChunk), score: (actual[0] as RankedChunk).score * 1.001 };
    expect(compare(actual, reference)?.reason).toMatch(/^rank 1: .* scored .*, expected /);
  });

  it('catches a repeated result', async () => {
    const { reference } = await answers();
    const actual = copy(reference.expected);
    actual[2] = { ...(actual[0] as RankedChunk) };
    expect(compare(actual, reference)?.reason).toMatch(/^rank 3: .* again \(also at rank 1\)/);
  });

  it('accepts scores within the tolerance', async () => {
    const { reference } = await answers();
    const nudge = mode === 'bm25' ? 1 + 1e-8 : 1;
    const shift = mode === 'vector' ? 1e-6 : 0;
    const actual = copy(reference.expected).map((h) => ({ ...h, score: h.score * nudge + shift }));
    expect(compare(actual, reference)).toBeUndefined();
  });
});

describe('compare near ties', () => {
  /** Equal files under three paths, and one that differs in a word no query asks for. */
  const TIED = {
    'src/c.ts': 'shared words here\n',
    'src/a.ts': 'shared words here\n',
    'src/b.ts': 'shared words here\n',
    'src/d.ts': 'shared words there\n',
  };

  it('holds chunks with equal scores to path order, the cut included', async () => {
    const reference = await (await stateOf(TIED)).search('shared', { mode: 'bm25', topK: 2 });
    expect(reference.expected.map((h) => h.path)).toEqual(['src/a.ts', 'src/b.ts']);
    const swapped = copy(reference.expected).reverse();
    expect(compare(swapped, reference)?.reason).toMatch(/equal scores go by path, then first line/);
    const skipped = [
      reference.expected[0] as RankedChunk,
      { ...(reference.expected[1] as RankedChunk), path: 'src/c.ts' },
    ];
    expect(compare(skipped, reference)?.reason).toMatch(/^rank 2: expected src\/b\.ts/);
  });

  it('accepts any order and any subset at the cut of scores apart by less than the tolerance', async () => {
    const reference = await (await stateOf(TIED)).search('shared', { mode: 'bm25', topK: 2 });
    if (reference.mode === 'hybrid') throw new Error('unreachable');
    // Nudge the ranking as float noise would: three distinct scores within 1e-6 relative.
    const ranking = reference.ranking.map((h, i) => ({ ...h, score: h.score * (1 + i * 1e-7) }));
    const noisy = { ...reference, ranking, expected: ranking.slice(0, 2) };
    const cut = [ranking[3] as RankedChunk, ranking[1] as RankedChunk];
    expect(compare(cut, noisy)).toBeUndefined();
    expect(compare([ranking[0] as RankedChunk, ranking[0] as RankedChunk], noisy)?.reason).toMatch(/again/);
  });

  it('compares hybrid loosely when a near tie straddles the definitions head, and says why', async () => {
    const reference = await (await stateOf(TIED)).search('shared', { mode: 'hybrid', topK: 2 });
    if (reference.mode !== 'hybrid') throw new Error('unreachable');
    expect(compareVerdict(copy(reference.expected), reference)).toEqual({ kind: 'agree' });
    const fused = reference.fused.map((h) => ({ ...h }));
    const loose = { ...reference, fused, lookahead: 1 };
    const verdict = compareVerdict(copy(reference.expected), loose);
    expect(verdict).toMatchObject({
      kind: 'agree-loosely',
      why: expect.stringMatching(/^preliminary hybrid ranks 1-\d+ are near-tied across the definitions head/),
    });
    // Loosely, scores that go up are still wrong.
    const wrong = copy(reference.expected).map((h, i) => ({ ...h, score: h.score + i }));
    expect(compare(wrong, loose)?.reason).toMatch(/above rank 1's .* \(compared loosely: /);
  });
});
