import type { StepEvent } from '../history.js';

/** A failed check: one line for the report, and, where there is one, a side-by-side table. */
export interface Violation {
  /** What kind of failure this is, for the summary: `contract`, `results-differ`, `intruder`. */
  readonly kind: string;
  readonly message: string;
  /** Longer evidence for trace.txt (expected and actual result lists side by side). */
  readonly details?: string;
}

/**
 * One rule the history must keep, checked after each step settles. A checker may remember what
 * it concluded about earlier steps (a search's matched state), so each run gets fresh instances.
 */
export interface Checker {
  readonly name: string;
  /** Judges `event`, now the last word on its step; undefined when the rule holds. */
  check(history: readonly StepEvent[], event: StepEvent): Promise<Violation | undefined>;
}

/** All rules at once: the first that fails decides. */
export function compose(name: string, checkers: readonly Checker[]): Checker {
  return {
    name,
    async check(history, event) {
      for (const checker of checkers) {
        const violation = await checker.check(history, event);
        if (violation !== undefined) return violation;
      }
      return undefined;
    },
  };
}
