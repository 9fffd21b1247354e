/**
 * fast-check shrinks a command sequence by the paths its shrinker knows, which can leave steps
 * that do not matter (three searches that change nothing, an open the next search would do
 * anyway). This pass makes a failing sequence 1-minimal in the sense of delta debugging: removing
 * any single remaining command makes the failure go away (or change its kind).
 */

export interface MinimizeOptions {
  /** Most replays the pass may spend; each is a whole run against real processes. */
  readonly maxAttempts: number;
  /** Stop starting replays after this long (ms). */
  readonly timeBudgetMs: number;
}

export const MINIMIZE_DEFAULTS: MinimizeOptions = { maxAttempts: 80, timeBudgetMs: 90_000 };

export interface Minimized<C> {
  readonly commands: readonly C[];
  /** Removals and simplifications made beyond fast-check's own shrinking. */
  readonly removed: number;
  readonly attempts: number;
  /** False when the budget ran out before every command was tried once more. */
  readonly complete: boolean;
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
  let current = [...commands];
  let attempts = 0;
  let changes = 0;
  const outOfBudget = () =>
    attempts >= options.maxAttempts || performance.now() - started > options.timeBudgetMs;
  const result = (complete: boolean): Minimized<C> => ({
    commands: current,
    removed: changes,
    attempts,
    complete,
  });
  for (;;) {
    let changedThisPass = false;
    for (let i = current.length - 1; i >= 0; i--) {
      const command = current[i] as C;
      const replacements = [...(current.length > 1 ? [[]] : []), ...simpler(command)];
      for (const replacement of replacements) {
        if (outOfBudget()) return result(false);
        const candidate = [...current.slice(0, i), ...replacement, ...current.slice(i + 1)];
        attempts++;
        if (await stillFails(candidate)) {
          current = candidate;
          changes++;
          changedThisPass = true;
          break;
        }
      }
    }
    if (!changedThisPass) return result(true);
  }
}
