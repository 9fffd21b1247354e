import { describe, expect, it } from 'vitest';
import type { SearchMode } from '../../src/index/types.js';
import { exclusivityChecker } from '../../src/tester/checkers/exclusivity.js';
import { singleStateChecker, tokenJudge } from '../../src/tester/checkers/single-state.js';
import type { Actor, Outcome, ResultRow, StepEvent } from '../../src/tester/history.js';

/**
 * Known-bad and known-good histories, built by hand, for the checkers that need no reference
 * index. Every rule has a history that breaks it in every search mode, so weakening any rule
 * (or leaving a mode unjudged) turns a test red.
 */
class Trace {
  readonly steps: StepEvent[] = [];

  private add(event: Omit<StepEvent, 'index' | 'pid' | 'ok'>): StepEvent {
    const full: StepEvent = {
      ...event,
      ok: event.outcome === 'ok',
      index: this.steps.length,
      pid: event.actor === 'owner' ? 2 : 1,
    };
    this.steps.push(full);
    return full;
  }

  write(path: string, token: string, start: number, end: number, outcome: Outcome = 'ok'): StepEvent {
    return this.add({
      actor: 'owner',
      op: 'write',
      args: { paths: [path], tokens: [token] },
      files: [{ path, content: `// ${token}\nexport function f() {}\n` }],
      start,
      end,
      outcome,
      ...(outcome === 'ok' ? {} : { error: 'boom', errorKind: outcome === 'info' ? 'died' : 'other' }),
    });
  }

  delete(path: string, start: number, end: number, outcome: Outcome = 'ok'): StepEvent {
    return this.add({
      actor: 'owner',
      op: 'delete',
      args: { paths: [path] },
      start,
      end,
      outcome,
      ...(outcome === 'ok' ? {} : { error: 'boom', errorKind: outcome === 'info' ? 'died' : 'other' }),
    });
  }

  /** A search for `query` whose results are one row per (path, token) seen. */
  search(
    query: string,
    start: number,
    end: number,
    seen: readonly (readonly [string, string])[],
    options: { mode?: SearchMode; topK?: number; pathPrefix?: string; actor?: Actor } = {},
  ): StepEvent {
    const results: ResultRow[] = seen.map(([path]) => ({ path, startLine: 1, endLine: 2, score: 1 }));
    return this.add({
      actor: options.actor ?? 'reader-1',
      op: 'search',
      args: {
        mode: options.mode ?? 'bm25',
        query,
        topK: options.topK ?? 10,
        ...(options.pathPrefix === undefined ? {} : { pathPrefix: options.pathPrefix }),
      },
      start,
      end,
      outcome: 'ok',
      results,
      seen: seen.map(([, token]) => token),
    });
  }
}

const MODES: readonly SearchMode[] = ['bm25', 'vector', 'hybrid'];

/** Checks every search of the trace in order, as the world does; returns the first violation. */
async function verdict(trace: Trace) {
  const checker = singleStateChecker(tokenJudge);
  for (const step of trace.steps) {
    if (step.op !== 'search') continue;
    const violation = await checker.check(trace.steps, step);
    if (violation !== undefined) return violation;
  }
  return undefined;
}

describe('single-state checker, token judge', () => {
  it('accepts a search that sees exactly an acknowledged write', async () => {
    for (const mode of MODES) {
      const t = new Trace();
      t.write('a.ts', 'zqaxa', 0, 1);
      t.search('zqaxa', 2, 3, [['a.ts', 'zqaxa']], { mode });
      expect(await verdict(t)).toBeUndefined();
    }
  });

  it('fails a bm25 search that misses an acknowledged write, and a short list in any mode', async () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.search('zqaxa', 2, 3, [], { mode: 'bm25' });
    expect((await verdict(t))?.message).toMatch(/missed 'zqaxa'/);
    for (const mode of MODES) {
      // A list shorter than top-k holds every chunk: missing the token is wrong in every mode.
      const short = new Trace();
      short.write('a.ts', 'zqaxa', 0, 1);
      short.write('b.ts', 'zqbxb', 1, 2);
      short.search('zqaxa', 3, 4, [['b.ts', 'zqbxb']], { mode, topK: 5 });
      expect((await verdict(short))?.kind, mode).toBe('results-differ');
    }
  });

  it('accepts a truncated vector or hybrid list without the token (the oracle judges those)', async () => {
    for (const mode of ['vector', 'hybrid'] as const) {
      const t = new Trace();
      t.write('a.ts', 'zqaxa', 0, 1);
      t.write('b.ts', 'zqbxb', 1, 2);
      t.search('zqaxa', 3, 4, [['b.ts', 'zqbxb']], { mode, topK: 1 });
      expect(await verdict(t)).toBeUndefined();
    }
  });

  it('fails a phantom: a token written after the search ended', async () => {
    for (const mode of MODES) {
      const t = new Trace();
      t.search('zqaxa', 0, 1, [['a.ts', 'zqaxa']], { mode });
      t.write('a.ts', 'zqaxa', 2, 3);
      expect((await verdict(t))?.message, mode).toMatch(/zqaxa/);
    }
  });

  it('fails a deleted or replaced token that comes back, in every mode', async () => {
    for (const mode of MODES) {
      const deleted = new Trace();
      deleted.write('a.ts', 'zqaxa', 0, 1);
      deleted.delete('a.ts', 2, 3);
      deleted.search('zqaxa', 4, 5, [['a.ts', 'zqaxa']], { mode });
      expect((await verdict(deleted))?.message, mode).toMatch(/saw 'zqaxa'/);
      const replaced = new Trace();
      replaced.write('a.ts', 'zqaxa', 0, 1);
      replaced.write('a.ts', 'zqbxb', 2, 3);
      replaced.search('zqaxa', 4, 5, [['a.ts', 'zqaxa']], { mode });
      expect((await verdict(replaced))?.message, mode).toMatch(/saw 'zqaxa'/);
    }
  });

  it('accepts either outcome of a write racing the search, and of one whose owner died', async () => {
    for (const outcome of ['ok', 'info'] as const) {
      for (const seen of [[], [['a.ts', 'zqaxa'] as const]]) {
        const t = new Trace();
        t.search('zqaxa', 0, 3, seen);
        t.write('a.ts', 'zqaxa', 1, 2, outcome);
        // The search is checked after the write settled, as a parallel batch does.
        const search = t.steps[0] as StepEvent;
        expect(await singleStateChecker(tokenJudge).check(t.steps, search)).toBeUndefined();
      }
    }
  });

  it('fails a write with an error reply that became visible (it was rolled back)', async () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1, 'fail');
    t.search('zqaxa', 2, 3, [['a.ts', 'zqaxa']]);
    expect((await verdict(t))?.message).toMatch(/saw 'zqaxa'/);
  });

  it('fails a search that sees a later write but misses an earlier untouched one (no single state)', async () => {
    for (const mode of MODES) {
      const t = new Trace();
      t.write('a.ts', 'zqaxa', 0, 1);
      t.write('b.ts', 'zqbxb', 2, 10);
      // Racing b's write, the search may see b or not, but a was acknowledged: a short list must hold it.
      t.search('zqaxa', 3, 4, [['b.ts', 'zqbxb']], { mode, topK: 10 });
      expect((await verdict(t))?.kind, mode).toBe('results-differ');
    }
  });

  it('fails a later search that reads an older state than an earlier one did', async () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.write('a.ts', 'zqbxb', 2, 10);
    // First search (3-4) saw the new content; the second (5-6) started after it ended and saw the old.
    t.search('zqbxb', 3, 4, [['a.ts', 'zqbxb']]);
    t.search('zqaxa', 5, 6, [['a.ts', 'zqaxa']]);
    expect((await verdict(t))?.message).toMatch(/matches no single state 2\.\.2/);
  });

  it('lets overlapping searches read different states in either order', async () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.write('a.ts', 'zqbxb', 2, 10);
    t.search('zqbxb', 3, 6, [['a.ts', 'zqbxb']]);
    t.search('zqaxa', 4, 7, [['a.ts', 'zqaxa']]);
    expect(await verdict(t)).toBeUndefined();
  });

  it('fails a result outside the path prefix, in every mode', async () => {
    for (const mode of MODES) {
      const t = new Trace();
      t.write('lib/a.ts', 'zqaxa', 0, 1);
      t.write('src/lib/b.ts', 'zqbxb', 1, 2);
      t.search('zqbxb', 3, 4, [['src/lib/b.ts', 'zqbxb']], { mode, pathPrefix: 'lib' });
      expect((await verdict(t))?.message, mode).toMatch(/outside the path prefix 'lib'/);
    }
  });

  it('fails a search under a prefix that misses a token inside it, accepts one outside it', async () => {
    const inside = new Trace();
    inside.write('src/alphabet.py', 'zqaxa', 0, 1);
    inside.search('zqaxa', 2, 3, [], { pathPrefix: 'src/alpha' });
    expect((await verdict(inside))?.message).toMatch(/missed 'zqaxa'/);
    const outside = new Trace();
    outside.write('lib/a.ts', 'zqaxa', 0, 1);
    outside.search('zqaxa', 2, 3, [], { pathPrefix: 'src/' });
    expect(await verdict(outside)).toBeUndefined();
  });
});

describe('exclusivity checker', () => {
  function probe(promised: string, gotIn: boolean): StepEvent {
    return {
      index: 0,
      actor: 'intruder',
      op: 'probe',
      args: { target: 'index', access: 'READ_WRITE', ownerHolds: true, promised },
      pid: 3,
      start: 0,
      end: 1,
      outcome: 'ok',
      ok: true,
      detail: gotIn
        ? { path: '/x/index.db', gotIn, did: ['opened READ_WRITE', 'inserted a row', 'CHECKPOINT'] }
        : { path: '/x/index.db', gotIn, error: 'Conflicting lock is held' },
    };
  }

  it('fails an intruder that got in where the strategy keeps outsiders out, saying what it did', async () => {
    const violation = await exclusivityChecker.check([], probe('refused', true));
    expect(violation?.kind).toBe('intruder');
    expect(violation?.message).toMatch(
      /intruder got in: a READ_WRITE open of the index .* could: opened READ_WRITE, inserted a row, CHECKPOINT/,
    );
  });

  it('fails an intruder kept out where the strategy lets it in', async () => {
    expect((await exclusivityChecker.check([], probe('allowed', false)))?.message).toMatch(
      /intruder kept out/,
    );
  });

  it('accepts the promised outcomes and anything where nothing is promised', async () => {
    expect(await exclusivityChecker.check([], probe('refused', false))).toBeUndefined();
    expect(await exclusivityChecker.check([], probe('allowed', true))).toBeUndefined();
    expect(await exclusivityChecker.check([], probe('either', true))).toBeUndefined();
    expect(await exclusivityChecker.check([], probe('either', false))).toBeUndefined();
  });
});
