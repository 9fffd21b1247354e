import type { StepEvent } from '../history.js';

/**
 * The states a search may have read. The owner applies its mutations one at a time, in the order
 * it was asked (the tester never sends two at once), so every state the index passes through is
 * a prefix of the mutation list; a mutation whose outcome is `info` (the owner died, the deadline
 * passed) may be in that prefix or not.
 */

export type Applied = 'yes' | 'no' | 'maybe';

/** `ok` happened, `fail` did not (an error reply rolled back), `info` may have. */
export function applied(event: StepEvent): Applied {
  if (event.outcome === 'ok') return 'yes';
  return event.outcome === 'info' ? 'maybe' : 'no';
}

export function isMutation(event: StepEvent): boolean {
  return event.actor === 'owner' && (event.op === 'write' || event.op === 'delete');
}

/** One file in a state: its whole content and the token the write planted in it. */
export interface FileState {
  readonly content: string;
  readonly token?: string;
}

/** The index after some prefix of the mutations. */
export interface IndexState {
  /** How many mutations of the list it includes (undetermined ones perhaps dropped). */
  readonly prefix: number;
  /** Indexes into the mutation list of undetermined mutations left out. */
  readonly dropped: readonly number[];
  readonly files: ReadonlyMap<string, FileState>;
}

/** Undetermined mutations tried both ways; beyond this many, the rest count as landed. */
export const MAX_UNDETERMINED = 6;

/** The mutations that may have happened before `search` ended, in the order they were sent. */
export function mutationsBefore(history: readonly StepEvent[], search: StepEvent): StepEvent[] {
  return history
    .filter((e) => isMutation(e) && applied(e) !== 'no' && e.start < search.end)
    .sort((a, b) => a.start - b.start);
}

/** How many leading mutations were acknowledged before `search` started (all of them must be seen). */
export function acknowledgedBefore(mutations: readonly StepEvent[], search: StepEvent): number {
  return mutations.reduce((last, m, i) => (m.outcome === 'ok' && m.end < search.start ? i + 1 : last), 0);
}

function apply(files: Map<string, FileState>, mutation: StepEvent): void {
  if (mutation.op === 'write') {
    const tokens = (mutation.args.tokens ?? []) as readonly string[];
    (mutation.files ?? []).forEach((f, i) => {
      const token = tokens[i];
      files.set(f.path, token === undefined ? { content: f.content } : { content: f.content, token });
    });
  } else {
    for (const path of (mutation.args.paths ?? []) as readonly string[]) files.delete(path);
  }
}

/** The state after the first `count` mutations, leaving out the `dropped` ones. */
export function stateAfter(
  mutations: readonly StepEvent[],
  count: number,
  dropped: readonly number[] = [],
): IndexState {
  const files = new Map<string, FileState>();
  const skip = new Set(dropped);
  mutations.slice(0, count).forEach((m, i) => {
    if (!skip.has(i)) apply(files, m);
  });
  return { prefix: count, dropped, files };
}

/**
 * Every state a search could have read, smallest prefix first: prefixes from `lowest` to all the
 * mutations, each with every choice of which undetermined mutations landed.
 */
export function* candidateStates(mutations: readonly StepEvent[], lowest: number): Generator<IndexState> {
  for (let count = lowest; count <= mutations.length; count++) {
    const open = mutations
      .slice(0, count)
      .flatMap((m, i) => (applied(m) === 'maybe' ? [i] : []))
      .slice(0, MAX_UNDETERMINED);
    for (let mask = 0; mask < 1 << open.length; mask++) {
      yield stateAfter(
        mutations,
        count,
        open.filter((_, bit) => (mask >> bit) & 1),
      );
    }
  }
}

/** The tokens a state holds under a path prefix. */
export function tokensIn(state: IndexState, pathPrefix?: string): Set<string> {
  const tokens = new Set<string>();
  for (const [path, file] of state.files) {
    if (file.token !== undefined && (pathPrefix === undefined || path.startsWith(pathPrefix)))
      tokens.add(file.token);
  }
  return tokens;
}
