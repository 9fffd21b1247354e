import type { ContractName } from '../strategies/strategy.js';
import type { StepEvent } from './history.js';

/**
 * Judges each search against the writes around it. A write's effect is certain once it is
 * acknowledged, impossible before it is invoked, and either way while the two overlap: the
 * checker only fails a search for what no interleaving of the overlapping steps could explain.
 */

type Applied = 'yes' | 'no' | 'maybe';

/** A failed owner step with an error reply rolled back; one whose owner died may or may not have landed. */
function applied(event: StepEvent): Applied {
  if (event.ok) return 'yes';
  return event.errorKind === 'owner-died' ? 'maybe' : 'no';
}

function isMutation(event: StepEvent): boolean {
  return event.actor === 'owner' && (event.op === 'write' || event.op === 'delete');
}

function pathOf(event: StepEvent): string {
  return String(event.args.path);
}

/** What the history allows a search to see of one token. */
export type Visibility = 'must-see' | 'must-not-see' | 'either';

/** Visibility of `token` to `search` under "acknowledged before start". */
export function visibility(history: readonly StepEvent[], search: StepEvent, token: string): Visibility {
  const write = history.find((e) => e.op === 'write' && e.actor === 'owner' && e.args.token === token);
  if (write === undefined || write.start > search.end) return 'must-not-see';
  if (applied(write) === 'no') return 'must-not-see';
  const later = history.filter(
    (e) => isMutation(e) && e !== write && pathOf(e) === pathOf(write) && e.start > write.start,
  );
  if (later.some((e) => applied(e) === 'yes' && e.end < search.start)) return 'must-not-see';
  const certain = applied(write) === 'yes' && write.end < search.start;
  const maybeReplaced = later.some((e) => e.start < search.end && applied(e) !== 'no');
  return certain && !maybeReplaced ? 'must-see' : 'either';
}

/** Undetermined steps (owner died mid-step) tried both ways; beyond this many, the rest count as landed. */
const MAX_UNDETERMINED = 8;

/** A failed contract: one line for the report. */
export interface Violation {
  readonly message: string;
}

function acknowledgedBeforeStart(
  history: readonly StepEvent[],
  search: StepEvent,
  token: string,
): Violation | undefined {
  const seen = new Set(search.seen ?? []);
  if (!seen.has(token) && visibility(history, search, token) === 'must-see') {
    const write = history.find((e) => e.args.token === token);
    return {
      message: `search #${search.index} (${String(search.args.mode)}) missed '${token}', acknowledged by step #${write?.index} before the search started`,
    };
  }
  for (const other of seen) {
    if (visibility(history, search, other) === 'must-not-see') {
      return {
        message: `search #${search.index} (${String(search.args.mode)}) saw '${other}', which was deleted, replaced or never written before the search ended`,
      };
    }
  }
  return undefined;
}

/**
 * Snapshot reads: what a search sees must be explained by one prefix of the acknowledged
 * mutations; a later search (one that started after a previous one ended) must not explain itself
 * by an earlier prefix than that one. Searches that overlap each other (a parallel batch) may
 * open different copies, so they are not ordered. The prefix is found as the range of prefixes
 * consistent with every token seen or not seen.
 */
function publishedPrefix(
  history: readonly StepEvent[],
  search: StepEvent,
  token: string,
  state: CheckerState,
): Violation | undefined {
  const mutations = history.filter((e) => isMutation(e) && applied(e) !== 'no' && e.start < search.end);
  const seen = new Set(search.seen ?? []);
  // A step whose owner died may or may not have landed: try the prefix with and without each.
  const maybe = mutations.flatMap((m, i) => (applied(m) === 'maybe' ? [i] : []));
  const contentAfter = (count: number, dropped: ReadonlySet<number>): Set<string> => {
    const files = new Map<string, string | undefined>();
    mutations.slice(0, count).forEach((m, i) => {
      if (!dropped.has(i)) files.set(pathOf(m), m.op === 'write' ? String(m.args.token) : undefined);
    });
    return new Set([...files.values()].filter((t): t is string => t !== undefined));
  };
  const explainsWith = (count: number, dropped: ReadonlySet<number>): boolean => {
    const visible = contentAfter(count, dropped);
    if (visible.has(token) !== seen.has(token)) return false;
    for (const other of seen) if (!visible.has(other)) return false;
    return true;
  };
  const explains = (count: number): boolean => {
    const open = maybe.filter((i) => i < count).slice(0, MAX_UNDETERMINED);
    for (let mask = 0; mask < 1 << open.length; mask++) {
      if (explainsWith(count, new Set(open.filter((_, bit) => (mask >> bit) & 1)))) return true;
    }
    return false;
  };
  const acknowledgedBefore = mutations.reduce(
    (last, m, i) => (m.ok && m.end < search.start ? i + 1 : last),
    0,
  );
  // A snapshot owner publishes before it acknowledges, so an acknowledged write is a published one.
  const earlier = state.prefixes.filter((p) => p.end < search.start).map((p) => p.prefix);
  const lowest = Math.max(acknowledgedBefore, ...earlier);
  for (let count = lowest; count <= mutations.length; count++) {
    if (explains(count)) {
      state.prefixes.push({ end: search.end, prefix: count });
      return undefined;
    }
  }
  return {
    message: `search #${search.index} (${String(search.args.mode)}) for '${token}' saw [${[...seen].join(', ')}]: no prefix of at least ${lowest} of the ${mutations.length} writes explains it (${acknowledgedBefore} were acknowledged before it started)`,
  };
}

/** What a contract remembers between searches of one run. */
export interface CheckerState {
  /** Each search checked so far: when it ended, and the shortest prefix (at or above its bound) that explains it. */
  readonly prefixes: { readonly end: number; readonly prefix: number }[];
}

export function newCheckerState(): CheckerState {
  return { prefixes: [] };
}

/** Checks one finished search under `contract`. */
export function checkSearch(
  contract: ContractName,
  history: readonly StepEvent[],
  search: StepEvent,
  state: CheckerState,
): Violation | undefined {
  const token = String(search.args.token);
  switch (contract) {
    case 'acknowledged-before-start':
      return acknowledgedBeforeStart(history, search, token);
    case 'published-prefix':
      return publishedPrefix(history, search, token, state);
  }
}
