import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ContractName } from '../../src/strategies/strategy.js';
import { checkSearch, newCheckerState, type Visibility, visibility } from '../../src/tester/checker.js';
import type { StepEvent } from '../../src/tester/history.js';

/** Builds a history by hand: each step gets the next index; times are given explicitly. */
class Trace {
  readonly steps: StepEvent[] = [];

  private add(event: Omit<StepEvent, 'index' | 'pid'>): StepEvent {
    const full: StepEvent = { ...event, index: this.steps.length, pid: event.actor === 'owner' ? 2 : 1 };
    this.steps.push(full);
    return full;
  }

  write(path: string, token: string, start: number, end: number, failure?: string): StepEvent {
    return this.add({
      actor: 'owner',
      op: 'write',
      args: { path, token },
      start,
      end,
      ok: failure === undefined,
      ...(failure === undefined ? {} : { error: `${failure} error`, errorKind: failure }),
    });
  }

  delete(path: string, start: number, end: number, failure?: string): StepEvent {
    return this.add({
      actor: 'owner',
      op: 'delete',
      args: { path },
      start,
      end,
      ok: failure === undefined,
      ...(failure === undefined ? {} : { error: `${failure} error`, errorKind: failure }),
    });
  }

  search(token: string, start: number, end: number, seen: readonly string[]): StepEvent {
    return this.add({
      actor: 'reader',
      op: 'search',
      args: { mode: 'bm25', token },
      start,
      end,
      ok: true,
      seen,
    });
  }
}

const CONTRACTS: readonly ContractName[] = ['acknowledged-before-start', 'published-prefix'];

function check(contract: ContractName, trace: Trace, search: StepEvent) {
  return checkSearch(contract, trace.steps, search, newCheckerState());
}

describe('visibility and both contracts', () => {
  it('a write acknowledged before the search started must be seen', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    const hit = t.search('zqaxa', 2, 3, ['zqaxa']);
    const miss = t.search('zqaxa', 4, 5, []);
    expect(visibility(t.steps, miss, 'zqaxa')).toBe<Visibility>('must-see');
    for (const contract of CONTRACTS) {
      expect(check(contract, t, hit)).toBeUndefined();
      expect(check(contract, t, miss)?.message).toMatch(/zqaxa/);
    }
    expect(check('acknowledged-before-start', t, miss)?.message).toMatch(/missed 'zqaxa'.*step #0/);
  });

  it('a write invoked after the search ended must not be seen (a phantom)', () => {
    const t = new Trace();
    const miss = t.search('zqaxa', 0, 1, []);
    const phantom = t.search('zqaxa', 0, 1, ['zqaxa']);
    t.write('a.ts', 'zqaxa', 2, 3);
    expect(visibility(t.steps, phantom, 'zqaxa')).toBe<Visibility>('must-not-see');
    for (const contract of CONTRACTS) {
      expect(check(contract, t, miss)).toBeUndefined();
      expect(check(contract, t, phantom)).toBeDefined();
    }
    expect(check('acknowledged-before-start', t, phantom)?.message).toMatch(/saw 'zqaxa'/);
  });

  it('a token never written must not be seen', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    const search = t.search('zqabsent', 2, 3, ['zqaxa', 'zqabsent']);
    expect(visibility(t.steps, search, 'zqabsent')).toBe<Visibility>('must-not-see');
    for (const contract of CONTRACTS) expect(check(contract, t, search)).toBeDefined();
  });

  it('a write overlapping the search may or may not be seen', () => {
    for (const [start, end] of [
      [0, 5],
      [2, 4],
      [3, 10],
    ] as const) {
      const t = new Trace();
      const seen = t.search('zqaxa', 1, 6, ['zqaxa']);
      const unseen = t.search('zqaxa', 1, 6, []);
      t.write('a.ts', 'zqaxa', start, end);
      expect(visibility(t.steps, seen, 'zqaxa')).toBe<Visibility>('either');
      for (const contract of CONTRACTS) {
        expect(check(contract, t, seen)).toBeUndefined();
        expect(check(contract, t, unseen)).toBeUndefined();
      }
    }
  });

  it('a later write or delete of the same file acknowledged before the search hides the old token', () => {
    for (const replace of [
      (t: Trace) => t.write('a.ts', 'zqbxb', 2, 3),
      (t: Trace) => t.delete('a.ts', 2, 3),
    ]) {
      const t = new Trace();
      t.write('a.ts', 'zqaxa', 0, 1);
      replace(t);
      const stale = t.search('zqaxa', 4, 5, ['zqaxa']);
      const fresh = t.search('zqaxa', 4, 5, []);
      expect(visibility(t.steps, stale, 'zqaxa')).toBe<Visibility>('must-not-see');
      for (const contract of CONTRACTS) {
        expect(check(contract, t, stale)).toBeDefined();
        expect(check(contract, t, fresh)).toBeUndefined();
      }
    }
  });

  it('a later change of another file does not hide the token', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.delete('b.py', 2, 3);
    const search = t.search('zqaxa', 4, 5, []);
    expect(visibility(t.steps, search, 'zqaxa')).toBe<Visibility>('must-see');
  });

  it('a later delete overlapping the search leaves the old token either way', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    const seen = t.search('zqaxa', 2, 6, ['zqaxa']);
    const unseen = t.search('zqaxa', 2, 6, []);
    t.delete('a.ts', 3, 8);
    expect(visibility(t.steps, seen, 'zqaxa')).toBe<Visibility>('either');
    for (const contract of CONTRACTS) {
      expect(check(contract, t, seen)).toBeUndefined();
      expect(check(contract, t, unseen)).toBeUndefined();
    }
  });

  it('a failed write with an error reply was rolled back: must not be seen', () => {
    for (const kind of ['duckdb', 'lock-conflict', 'io', 'other']) {
      const t = new Trace();
      t.write('a.ts', 'zqaxa', 0, 1, kind);
      const search = t.search('zqaxa', 2, 3, ['zqaxa']);
      expect(visibility(t.steps, search, 'zqaxa')).toBe<Visibility>('must-not-see');
      for (const contract of CONTRACTS) expect(check(contract, t, search)).toBeDefined();
    }
  });

  it('a failed later delete does not hide the earlier token', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.delete('a.ts', 2, 3, 'duckdb');
    const search = t.search('zqaxa', 4, 5, []);
    expect(visibility(t.steps, search, 'zqaxa')).toBe<Visibility>('must-see');
    for (const contract of CONTRACTS) expect(check(contract, t, search)).toBeDefined();
  });

  it('a write whose owner died may or may not have landed', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1, 'owner-died');
    const seen = t.search('zqaxa', 2, 3, ['zqaxa']);
    const unseen = t.search('zqaxa', 2, 3, []);
    expect(visibility(t.steps, seen, 'zqaxa')).toBe<Visibility>('either');
    for (const contract of CONTRACTS) {
      expect(check(contract, t, seen)).toBeUndefined();
      expect(check(contract, t, unseen)).toBeUndefined();
    }
  });

  it('a delete whose owner died leaves the old token either way', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.delete('a.ts', 2, 3, 'owner-died');
    const seen = t.search('zqaxa', 4, 5, ['zqaxa']);
    const unseen = t.search('zqaxa', 4, 5, []);
    expect(visibility(t.steps, seen, 'zqaxa')).toBe<Visibility>('either');
    for (const contract of CONTRACTS) {
      expect(check(contract, t, seen)).toBeUndefined();
      expect(check(contract, t, unseen)).toBeUndefined();
    }
  });
});

describe('published-prefix', () => {
  it('seeing a later write but not an earlier acknowledged one is no prefix', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    const search = t.search('zqaxa', 3, 6, ['zqbxb']);
    t.write('b.py', 'zqbxb', 2, 8);
    expect(check('published-prefix', t, search)?.message).toMatch(/no prefix/);
  });

  it('seeing a later write but not an earlier one, both racing the search, is no prefix', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 2, 4);
    t.write('b.py', 'zqbxb', 5, 7);
    const gap = t.search('zqaxa', 1, 10, ['zqbxb']);
    const first = t.search('zqaxa', 1, 10, ['zqaxa']);
    const both = t.search('zqaxa', 1, 10, ['zqaxa', 'zqbxb']);
    const none = t.search('zqaxa', 1, 10, []);
    // Under "acknowledged before start" each write alone may or may not be seen.
    expect(check('acknowledged-before-start', t, gap)).toBeUndefined();
    expect(check('published-prefix', t, gap)).toBeDefined();
    for (const search of [first, both, none]) expect(check('published-prefix', t, search)).toBeUndefined();
  });

  it('a later search must not go back to a shorter prefix than an earlier one', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.write('b.py', 'zqbxb', 2, 30);
    const newer = t.search('zqbxb', 5, 10, ['zqbxb']);
    const older = t.search('zqbxb', 12, 15, []);
    const state = newCheckerState();
    expect(checkSearch('published-prefix', t.steps, newer, state)).toBeUndefined();
    expect(checkSearch('published-prefix', t.steps, older, state)?.message).toMatch(
      /no prefix of at least 2/,
    );
    // Alone, the second search is explained by the first prefix.
    expect(check('published-prefix', t, older)).toBeUndefined();
  });

  it('searches that overlap each other may see different prefixes in either order', () => {
    const t = new Trace();
    t.write('a.ts', 'zqaxa', 0, 1);
    t.write('b.py', 'zqbxb', 2, 30);
    // Issued together (as a parallel batch does): one opened the new copy, one the old.
    const newer = t.search('zqbxb', 5, 10, ['zqbxb']);
    const older = t.search('zqbxb', 5, 15, []);
    const state = newCheckerState();
    expect(checkSearch('published-prefix', t.steps, newer, state)).toBeUndefined();
    expect(checkSearch('published-prefix', t.steps, older, state)).toBeUndefined();
    // A third search after both ended must not go back behind the newer one.
    const later = t.search('zqbxb', 16, 18, []);
    expect(checkSearch('published-prefix', t.steps, later, state)).toBeDefined();
  });
});

// ---------------------------------------------------------------------------------------------
// Property: sequential histories (no overlap) against a reference model of path -> token.

type Op =
  | { readonly kind: 'write'; readonly file: number; readonly fail: boolean }
  | { readonly kind: 'delete'; readonly file: number }
  | { readonly kind: 'search'; readonly pick: number };

const PATHS = ['a.ts', 'b.py', 'c.go'];
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant('write' as const), file: fc.nat({ max: 2 }), fail: fc.boolean() }),
  fc.record({ kind: fc.constant('delete' as const), file: fc.nat({ max: 2 }) }),
  fc.record({ kind: fc.constant('search' as const), pick: fc.nat({ max: 9 }) }),
);

interface Built {
  readonly trace: Trace;
  /** Each search, the model's visible tokens when it started, and every token written so far. */
  readonly searches: { search: StepEvent; state: Set<string>; written: string[] }[];
}

/** Runs ops one after another (each takes [t, t + 1]); searches see exactly the model's state. */
function build(ops: readonly Op[]): Built {
  const trace = new Trace();
  const files = new Map<string, string>();
  const written: string[] = [];
  const searches: Built['searches'] = [];
  let time = 0;
  for (const op of ops) {
    const start = time;
    const end = time + 1;
    time += 2;
    if (op.kind === 'write') {
      const token = `zq${written.length}x`;
      written.push(token);
      const path = PATHS[op.file] as string;
      trace.write(path, token, start, end, op.fail ? 'duckdb' : undefined);
      if (!op.fail) files.set(path, token);
    } else if (op.kind === 'delete') {
      const path = PATHS[op.file] as string;
      trace.delete(path, start, end);
      files.delete(path);
    } else {
      const state = new Set(files.values());
      const candidates = [...written, 'zqabsent'];
      const token = candidates[op.pick % candidates.length] as string;
      const search = trace.search(token, start, end, [...state]);
      searches.push({ search, state, written: [...written] });
    }
  }
  return { trace, searches };
}

describe('checker against a reference model', () => {
  it('never fails a search that sees exactly the state at its start; always fails one missing a must-see token', () => {
    fc.assert(
      fc.property(fc.array(opArb, { maxLength: 30 }), (ops) => {
        const { trace, searches } = build(ops);
        const prefixState = newCheckerState();
        for (const { search, state, written } of searches) {
          const upTo = trace.steps.slice(0, search.index + 1);
          for (const token of [...written, 'zqabsent']) {
            const expected: Visibility = state.has(token) ? 'must-see' : 'must-not-see';
            expect(visibility(upTo, search, token)).toBe(expected);
            // Steps after the search (invoked after it ended) change nothing.
            expect(visibility(trace.steps, search, token)).toBe(expected);
          }
          expect(checkSearch('acknowledged-before-start', upTo, search, newCheckerState())).toBeUndefined();
          expect(checkSearch('published-prefix', upTo, search, prefixState)).toBeUndefined();

          const token = String(search.args.token);
          if (state.has(token)) {
            const dropped: StepEvent = { ...search, seen: (search.seen ?? []).filter((t) => t !== token) };
            expect(checkSearch('acknowledged-before-start', upTo, dropped, newCheckerState())).toBeDefined();
            expect(checkSearch('published-prefix', upTo, dropped, newCheckerState())).toBeDefined();
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
