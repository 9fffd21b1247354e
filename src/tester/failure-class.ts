/**
 * Race or logic: the way quickcheck-state-machine tells a possible race from a logic bug, by
 * replaying the final, minimal trace several times. A trace that fails on every replay is a
 * logic bug (or a race that always goes one way here); one that fails only sometimes depends on
 * how the processes interleave: a race.
 */

export interface FailureClass {
  readonly class: 'logic' | 'race';
  /** Replays that failed the same way, of `of` replays run. */
  readonly failed: number;
  readonly of: number;
  /** `fails every time (5/5)` or `fails 2/5: a race`. */
  readonly text: string;
}

export interface ClassifyOptions {
  /** Replays to run (default 5). */
  readonly replays: number;
  /** Stop starting replays after this long (ms); at least 2 replays run whatever the bound. */
  readonly timeBudgetMs: number;
}

export const CLASSIFY_DEFAULTS: ClassifyOptions = { replays: 5, timeBudgetMs: 30_000 };

/**
 * The time bound for classifying a failure found after `searchMs` of running and shrinking: a
 * twentieth of that, between 2 and 30 s (plus the replay under way when it runs out, and at least
 * two replays whatever the bound), so that with the 1-minimal pass's quarter (minimize.ts) a
 * report comes about 1.3x later at most than without both.
 */
export function classifyBudgetMs(searchMs: number): number {
  return Math.min(CLASSIFY_DEFAULTS.timeBudgetMs, Math.max(2_000, searchMs / 20));
}

export async function classifyFailure(
  replayFails: () => Promise<boolean>,
  options: ClassifyOptions = CLASSIFY_DEFAULTS,
): Promise<FailureClass> {
  const started = performance.now();
  let failed = 0;
  let of = 0;
  while (of < options.replays && (of < 2 || performance.now() - started < options.timeBudgetMs)) {
    of++;
    if (await replayFails()) failed++;
  }
  return failureClassOf(failed, of);
}

export function failureClassOf(failed: number, of: number): FailureClass {
  return failed === of
    ? { class: 'logic', failed, of, text: `fails every time (${failed}/${of})` }
    : { class: 'race', failed, of, text: `fails ${failed}/${of}: a race` };
}
