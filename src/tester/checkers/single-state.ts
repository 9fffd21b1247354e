import type { ResultRow, StepEvent } from '../history.js';
import type { Checker, Violation } from './checker.js';
import { acknowledgedBefore, candidateStates, type IndexState, mutationsBefore, tokensIn } from './states.js';

/** What a judge says of one search against one candidate state. */
export type StateVerdict =
  | { readonly agrees: true; readonly loosely?: boolean }
  | { readonly agrees: false; readonly reason: string; readonly details?: string };

/** Decides whether a search's results could have been read from `state`. */
export type StateJudge = (state: IndexState, search: StepEvent) => StateVerdict | Promise<StateVerdict>;

export function requestOf(search: StepEvent) {
  return {
    mode: String(search.args.mode),
    query: String(search.args.query),
    topK: Number(search.args.topK),
    pathPrefix: search.args.pathPrefix === undefined ? undefined : String(search.args.pathPrefix),
  };
}

/**
 * The judge that needs no reference index: what the result previews' tokens and paths allow.
 * Every result lies under the path prefix; every token seen is in the state; a BM25 search for a
 * token finds it exactly when the state holds it under the prefix (each token is in one chunk);
 * a list shorter than top-k holds every chunk vector scoring ranks, so it misses no token.
 */
export const tokenJudge: StateJudge = (state, search) => {
  const { mode, query, topK, pathPrefix } = requestOf(search);
  const results: readonly ResultRow[] = search.results ?? [];
  const outside = results.find((r) => pathPrefix !== undefined && !r.path.startsWith(pathPrefix));
  if (outside !== undefined)
    return { agrees: false, reason: `returned ${outside.path}, outside the path prefix '${pathPrefix}'` };
  const present = tokensIn(state, pathPrefix);
  const seen = new Set(search.seen ?? []);
  for (const token of seen) {
    if (!present.has(token))
      return { agrees: false, reason: `saw '${token}', which this state does not hold` };
  }
  const complete = mode === 'bm25' || results.length < topK;
  if (complete && present.has(query) && !seen.has(query)) {
    return { agrees: false, reason: `missed '${query}', which this state holds` };
  }
  return { agrees: true };
};

/** Both judges must agree, the first that does not explains why. */
export function allOf(judges: readonly StateJudge[]): StateJudge {
  return async (state, search) => {
    let loosely = false;
    for (const judge of judges) {
      const verdict = await judge(state, search);
      if (!verdict.agrees) return verdict;
      loosely ||= verdict.loosely === true;
    }
    return loosely ? { agrees: true, loosely } : { agrees: true };
  };
}

/** What a search was matched to, so later searches can be held to it. */
interface Matched {
  readonly end: number;
  readonly prefix: number;
}

/**
 * Linearizable reads: a search's whole result list must equal what one state of the index
 * between its start and its end gives: at least every mutation acknowledged before it started,
 * nothing sent after it ended, and no older state than one a search that ended before it started
 * already read. Mutations that raced the search may be in that state or not, but all of its
 * results come from the same one: a list that mixes two states (a torn read) matches neither.
 * Searches that overlap each other are not ordered among themselves.
 */
export function singleStateChecker(
  judge: StateJudge,
  onMatch?: (search: StepEvent, state: IndexState) => void,
): Checker {
  const matched: Matched[] = [];
  return {
    name: 'single-state',
    async check(history, search): Promise<Violation | undefined> {
      if (search.op !== 'search' || search.outcome !== 'ok') return undefined;
      const mutations = mutationsBefore(history, search);
      const acked = acknowledgedBefore(mutations, search);
      const earlier = matched.filter((m) => m.end < search.start).map((m) => m.prefix);
      const lowest = Math.max(acked, ...earlier);
      let closest: { state: IndexState; reason: string; details?: string } | undefined;
      for (const state of candidateStates(mutations, lowest)) {
        const verdict = await judge(state, search);
        if (verdict.agrees) {
          matched.push({ end: search.end, prefix: state.prefix });
          onMatch?.(search, state);
          return undefined;
        }
        // The newest state is the most telling one to show: it holds everything acknowledged.
        closest = {
          state,
          reason: verdict.reason,
          ...(verdict.details === undefined ? {} : { details: verdict.details }),
        };
      }
      const { mode, query } = requestOf(search);
      const span = `${lowest}..${mutations.length} of ${mutations.length} mutations (${acked} acknowledged before it started)`;
      return {
        kind: 'results-differ',
        message: `search #${search.index} (${search.actor}, ${mode} '${query}') matches no single state ${span}${closest === undefined ? '' : `; against prefix ${closest.state.prefix}: ${closest.reason}`}`,
        ...(closest?.details === undefined ? {} : { details: closest.details }),
      };
    },
  };
}
