import fc from 'fast-check';
import type { SearchMode } from '../../index/types.js';
import type { SearchRequest } from '../clients/reader-actor.js';
import { VOCABULARY } from '../content.js';
import { PATH_PREFIXES, type StressModel } from '../model.js';
import { ABSENT_TOKEN } from '../tokens.js';

/**
 * What a generated search asks: a token written earlier (`pick` counts back from the newest, so
 * small numbers, which shrink best, mean recent writes), a shared word (many chunks match, the
 * list truncates), an identifier in the files' own case style (definitions first), or a word
 * that occurs nowhere. Top-k from 1 to 20; a path prefix or none.
 */
export interface SearchSpec {
  readonly mode: SearchMode;
  readonly query:
    | { readonly kind: 'token'; readonly pick: number }
    | { readonly kind: 'word'; readonly word: number }
    | { readonly kind: 'identifier'; readonly words: readonly [number, number] }
    | { readonly kind: 'absent' };
  readonly topK: number;
  readonly prefix: number;
}

const word = fc.nat({ max: VOCABULARY.length - 1 });

/** How often each kind of query and an unfiltered search come up, against the others. */
export interface SearchSpecWeights {
  readonly token: number;
  readonly word: number;
  readonly identifier: number;
  readonly absent: number;
  /** Weight of no path prefix, against 1 for some prefix. */
  readonly unfiltered: number;
}

/** Search shapes with the given weights (targets differ in how much their files share). */
export function searchSpecWith(w: SearchSpecWeights): fc.Arbitrary<SearchSpec> {
  return fc.record({
    mode: fc.constantFrom<SearchMode>('bm25', 'vector', 'hybrid'),
    query: fc.oneof(
      {
        weight: w.token,
        arbitrary: fc.record({ kind: fc.constant('token' as const), pick: fc.nat({ max: 7 }) }),
      },
      { weight: w.word, arbitrary: fc.record({ kind: fc.constant('word' as const), word }) },
      {
        weight: w.identifier,
        arbitrary: fc.record({ kind: fc.constant('identifier' as const), words: fc.tuple(word, word) }),
      },
      { weight: w.absent, arbitrary: fc.constant({ kind: 'absent' as const }) },
    ),
    // The default top-k often, so that two searches ask the very same question now and then.
    topK: fc.oneof(
      { weight: 2, arbitrary: fc.constant(10) },
      { weight: 3, arbitrary: fc.integer({ min: 1, max: 20 }) },
    ),
    // 0 (no prefix) is also what shrinking goes to.
    prefix: fc.oneof(
      { weight: w.unfiltered, arbitrary: fc.constant(0) },
      { weight: 1, arbitrary: fc.integer({ min: 1, max: PATH_PREFIXES.length - 1 }) },
    ),
  });
}

/** The strategy target's searches: half of them filtered by a path prefix. */
export const searchSpec: fc.Arbitrary<SearchSpec> = searchSpecWith({
  token: 3,
  word: 3,
  identifier: 2,
  absent: 1,
  unfiltered: 1,
});

/** The token `pick` names: counted back from the newest write, or the absent one before any. */
export function tokenToSearch(model: Readonly<Pick<StressModel, 'written'>>, pick: number): string {
  if (model.written.length === 0) return ABSENT_TOKEN;
  return model.written[model.written.length - 1 - (pick % model.written.length)] as string;
}

function vocab(i: number): string {
  return VOCABULARY[i % VOCABULARY.length] as string;
}

/** The concrete request, resolved against what the run has written so far. */
export function resolveSearch(
  model: Readonly<Pick<StressModel, 'written'>>,
  spec: SearchSpec,
): SearchRequest {
  const q = spec.query;
  const query =
    q.kind === 'token'
      ? tokenToSearch(model, q.pick)
      : q.kind === 'word'
        ? vocab(q.word)
        : q.kind === 'identifier'
          ? `${vocab(q.words[0])}${vocab(q.words[1]).charAt(0).toUpperCase()}${vocab(q.words[1]).slice(1)}`
          : ABSENT_TOKEN;
  const prefix = PATH_PREFIXES[spec.prefix % PATH_PREFIXES.length];
  return { mode: spec.mode, query, topK: spec.topK, ...(prefix === undefined ? {} : { pathPrefix: prefix }) };
}

export function describeSearch(spec: SearchSpec): string {
  const q = spec.query;
  const query =
    q.kind === 'token'
      ? `token #${q.pick}`
      : q.kind === 'word'
        ? `'${vocab(q.word)}'`
        : q.kind === 'identifier'
          ? `ident ${vocab(q.words[0])}+${vocab(q.words[1])}`
          : 'absent';
  const prefix = PATH_PREFIXES[spec.prefix % PATH_PREFIXES.length];
  return `${spec.mode} ${query} k=${spec.topK}${prefix === undefined ? '' : ` in ${prefix}`}`;
}

/** A resolved request as a trace shows it: `hybrid 'zqbxa' k=10 in src/`. */
export function describeRequest(request: SearchRequest): string {
  const prefix = request.pathPrefix === undefined ? '' : ` in ${request.pathPrefix}`;
  return `${request.mode} '${request.query}' k=${request.topK}${prefix}`;
}
