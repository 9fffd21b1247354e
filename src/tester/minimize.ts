/**
 * fast-check shrinks a command sequence by the paths its shrinker knows, which can leave steps
 * that do not matter (three searches that change nothing, an open the next search would do
 * anyway). This pass makes a failing sequence 1-minimal in the sense of delta debugging: removing
 * any single remaining command makes the failure go away (or change its kind).
 *
 * Real processes race, so one passing replay does not prove a step is needed: each candidate is
 * replayed up to `replays` times and counts as failing if any replay fails. A step is kept only
 * when the sequence without it passed every one of those replays.
 */

export interface MinimizeOptions {
  /** Most replays the pass may spend; each is a whole run against real processes. */
  readonly maxAttempts: number;
  /** Stop starting replays after this long (ms). */
  readonly timeBudgetMs: number;
  /** Replays of each candidate before it counts as passing (default 3). */
  readonly replays?: number;
}

export const MINIMIZE_DEFAULTS = { maxAttempts: 80, timeBudgetMs: 90_000, replays: 3 } as const;

/**
 * The time bound for the pass after a failure took `searchMs` to find and shrink: a quarter of
 * that, between 5 and 90 s. With the race replays' twentieth (failure-class.ts) a report comes at
 * most about 1.3x later than it would without both, but for failures found within seconds. (A
 * fifth and a tenth gave a median 1.17x, max 1.31x on 15 caught mutant runs, but left 3 of them
 * not shown 1-minimal at load 25-40.)
 */
export function minimizeBudgetMs(searchMs: number): number {
  return Math.min(MINIMIZE_DEFAULTS.timeBudgetMs, Math.max(5_000, searchMs / 4));
}

export interface Minimized<C> {
  readonly commands: readonly C[];
  /** Removals and simplifications made beyond fast-check's own shrinking. */
  readonly removed: number;
  /** Replays spent. */
  readonly attempts: number;
  /** Replays of each candidate. */
  readonly replays: number;
  /** False when the budget ran out before every command was tried once more. */
  readonly complete: boolean;
  /**
   * Positions (0-based) in `commands` of the steps whose removal was not replayed `replays`
   * times since the sequence last changed: the steps the pass could not decide.
   */
  readonly undecided: readonly number[];
}

/**
 * Tries removing each command in turn, then replacing it by each of its simpler versions
 * (`simpler`: a batch by one of its parts, a write by one with a file fewer), keeping a change
 * whenever `stillFails` says the new sequence fails the same way, and repeats until a whole pass
 * changes nothing.
 */
export async function oneMinimal<C>(
  commands: readonly C[],
  stillFails: (candidate: readonly C[]) => Promise<boolean>,
  options: MinimizeOptions = MINIMIZE_DEFAULTS,
  simpler: (command: C) => C[][] = () => [],
): Promise<Minimized<C>> {
  const started = performance.now();
  const replays = Math.max(1, options.replays ?? MINIMIZE_DEFAULTS.replays);
  let current = [...commands];
  // decided[i]: the sequence without step i passed `replays` replays since `current` last changed.
  let decided = current.map(() => current.length === 1);
  let attempts = 0;
  let changes = 0;
  const outOfBudget = () =>
    attempts >= options.maxAttempts || performance.now() - started > options.timeBudgetMs;
  const result = (complete: boolean): Minimized<C> => ({
    commands: current,
    removed: changes,
    attempts,
    replays,
    complete,
    undecided: decided.flatMap((done, i) => (done ? [] : [i])),
  });
  /** 'fails' as soon as one replay fails; 'passes' after `times` passing replays. */
  const judge = async (candidate: readonly C[], times: number): Promise<'fails' | 'passes' | 'budget'> => {
    for (let r = 0; r < times; r++) {
      if (outOfBudget()) return 'budget';
      attempts++;
      if (await stillFails(candidate)) return 'fails';
    }
    return 'passes';
  };
  for (;;) {
    let changedThisPass = false;
    for (let i = current.length - 1; i >= 0; i--) {
      const command = current[i] as C;
      const removal = current.length > 1 ? [[]] : [];
      for (const [n, replacement] of [...removal, ...simpler(command)].entries()) {
        const candidate = [...current.slice(0, i), ...replacement, ...current.slice(i + 1)];
        // The claim is about removals, so only they need every replay; a simpler version that
        // passes once is given up on (a race could have kept it, at the cost of two more replays).
        const isRemoval = n === 0 && removal.length > 0;
        const verdict = await judge(candidate, isRemoval ? replays : 1);
        if (verdict === 'budget') return result(false);
        if (verdict === 'fails') {
          current = candidate;
          decided = current.map(() => current.length === 1);
          changes++;
          changedThisPass = true;
          break;
        }
        if (isRemoval) decided[i] = true;
      }
    }
    if (!changedThisPass) return result(true);
  }
}

/**
 * The report's sentence about a minimized trace: the claim it can make, or the steps (1-based,
 * by `describe`) it could not decide within its budget.
 */
export function describeMinimality<C>(minimized: Minimized<C>, describe: (command: C) => string): string {
  const k = minimized.replays;
  if (minimized.undecided.length === 0) return `1-minimal: removing any one step makes it pass ${k}/${k}`;
  const steps = minimized.undecided.map((i) => `${i + 1} ${describe(minimized.commands[i] as C)}`);
  return `not shown 1-minimal: the budget ran out (${minimized.attempts} replays) before removing step ${steps.join(', step ')} was replayed ${k} times`;
}
