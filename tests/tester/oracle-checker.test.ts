import { describe, expect, it } from 'vitest';
import { createDefaultEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import type { SearchMode } from '../../src/index/types.js';
import { oracleJudge } from '../../src/tester/checkers/oracle.js';
import { allOf, singleStateChecker, tokenJudge } from '../../src/tester/checkers/single-state.js';
import { renderFile, spec } from '../../src/tester/content.js';
import type { ResultRow, StepEvent } from '../../src/tester/history.js';
import { ReferenceIndex } from '../../src/tester/oracle/reference-index.js';

/**
 * The differential oracle inside the single-state checker, on hand-built histories whose result
 * lists come from the reference itself: the exact answer of one state passes; a torn read (parts
 * of two states), a subset of the right answer, a deleted chunk that comes back and a swapped
 * order fail, in every mode.
 */
const embedder = createDefaultEmbedder();
const MODES: readonly SearchMode[] = ['bm25', 'vector', 'hybrid'];

const A1 = { path: 'src/alpha.ts', content: renderFile('src/alpha.ts', spec(3), 'zqaxa') };
const A2 = { path: 'src/alpha.ts', content: renderFile('src/alpha.ts', { ...spec(2), tokenAt: 1 }, 'zqcxc') };
const B = { path: 'lib/gamma.go', content: renderFile('lib/gamma.go', spec(4), 'zqbxb') };

async function answer(
  files: readonly { path: string; content: string }[],
  mode: SearchMode,
  query: string,
  topK: number,
) {
  let index = ReferenceIndex.empty(embedder);
  for (const f of files) index = index.withFile(await prepareFile(f.path, f.content, embedder));
  const reference = await index.search(query, { mode, topK });
  return reference.expected.map((r) => ({
    path: r.path,
    startLine: r.startLine,
    endLine: r.endLine,
    score: r.score,
  }));
}

function history(
  results: readonly ResultRow[],
  mode: SearchMode,
  query: string,
  topK: number,
  deleteA = false,
) {
  const steps: StepEvent[] = [];
  const add = (e: Omit<StepEvent, 'index' | 'ok' | 'pid'>) => {
    const full: StepEvent = { ...e, index: steps.length, ok: e.outcome === 'ok', pid: 1 };
    steps.push(full);
    return full;
  };
  const write = (f: { path: string; content: string }, token: string, start: number, end: number) =>
    add({
      actor: 'owner',
      op: 'write',
      args: { paths: [f.path], tokens: [token] },
      files: [f],
      start,
      end,
      outcome: 'ok',
    });
  write(A1, 'zqaxa', 0, 1);
  write(B, 'zqbxb', 1, 2);
  // The replace of A races the search (3..10 against 4..5): either state is allowed, not a mix.
  write(A2, 'zqcxc', 3, 10);
  if (deleteA)
    add({ actor: 'owner', op: 'delete', args: { paths: [A1.path] }, start: 10, end: 11, outcome: 'ok' });
  const search = add({
    actor: 'reader-1',
    op: 'search',
    args: { mode, query, topK },
    start: deleteA ? 12 : 4,
    end: deleteA ? 13 : 5,
    outcome: 'ok',
    results,
    seen: [],
  });
  return { steps, search };
}

async function judge(
  results: readonly ResultRow[],
  mode: SearchMode,
  query: string,
  topK: number,
  deleteA = false,
) {
  const { steps, search } = history(results, mode, query, topK, deleteA);
  return singleStateChecker(allOf([tokenJudge, oracleJudge(embedder)])).check(steps, search);
}

describe('the oracle in the single-state checker', () => {
  it('accepts the exact answer of either state a racing replace allows', async () => {
    for (const mode of MODES) {
      const before = await answer([A1, B], mode, 'parse config', 10);
      const after = await answer([A2, B], mode, 'parse config', 10);
      expect(await judge(before, mode, 'parse config', 10), mode).toBeUndefined();
      expect(await judge(after, mode, 'parse config', 10), mode).toBeUndefined();
    }
  });

  it('fails a torn read: the replaced file missing from both states', async () => {
    for (const mode of MODES) {
      const before = await answer([A1, B], mode, 'parse config', 20);
      const torn = before.filter((r) => r.path !== A1.path);
      expect(torn.length).toBeGreaterThan(0);
      const violation = await judge(torn, mode, 'parse config', 20);
      expect(violation?.kind, mode).toBe('results-differ');
      expect(violation?.details, mode).toMatch(/expected/);
    }
  });

  it('fails a subset of the right answer, and a truncated list padded wrongly', async () => {
    for (const mode of MODES) {
      const full = await answer([A1, B], mode, 'config cache', 5);
      expect(full.length).toBe(5);
      expect((await judge(full.slice(0, 4), mode, 'config cache', 5))?.kind, mode).toBe('results-differ');
      expect((await judge(full.slice(1), mode, 'config cache', 5))?.kind, mode).toBe('results-differ');
    }
  });

  it('fails a deleted file that comes back', async () => {
    for (const mode of MODES) {
      const stale = await answer([A2, B], mode, 'parse', 10);
      const violation = await judge(stale, mode, 'parse', 10, true);
      expect(violation?.kind, mode).toBe('results-differ');
      expect(
        await judge(await answer([B], mode, 'parse', 10), mode, 'parse', 10, true),
        mode,
      ).toBeUndefined();
    }
  });

  it('fails a swapped order of two clearly different scores, and a wrong line range', async () => {
    for (const mode of ['bm25', 'hybrid'] as const) {
      const right = await answer([A1, B], mode, 'zqaxa parse', 10);
      const [first, second] = right;
      expect(first !== undefined && second !== undefined).toBe(true);
      if (first === undefined || second === undefined) return;
      const swapped = [second, first, ...right.slice(2)];
      if (Math.abs(first.score - second.score) > 1e-3) {
        expect((await judge(swapped, mode, 'zqaxa parse', 10))?.kind, mode).toBe('results-differ');
      }
      const shifted = [{ ...first, endLine: first.endLine + 1 }, ...right.slice(1)];
      expect((await judge(shifted, mode, 'zqaxa parse', 10))?.kind, mode).toBe('results-differ');
    }
  });
});
