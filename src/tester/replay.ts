import { type RunOptions, runStress } from './harness.js';
import type { StressSummary } from './report.js';
import type { StressSettings } from './settings.js';

export const DEFAULT_REPLAY_TIMES = 5;

/**
 * Replays one counterexample `times` times. Real processes race, so a trace may fail only some
 * of the time: the summary says how often it did. The trace reported is that of the first
 * reproducing replay; a counterexample that never reproduces is reported as passed and flaky.
 */
export async function replayCounterexample(
  settings: StressSettings,
  times = DEFAULT_REPLAY_TIMES,
  options: Omit<RunOptions, 'artifacts'> = {},
): Promise<StressSummary> {
  const started = performance.now();
  let first: StressSummary | undefined;
  let last: StressSummary | undefined;
  let failed = 0;
  for (let i = 0; i < times; i++) {
    last = await runStress(settings, { ...options, artifacts: false });
    if (last.status === 'error') return last;
    if (last.status === 'failed') {
      failed++;
      first ??= last;
    }
  }
  const chosen = first ?? (last as StressSummary);
  return {
    ...chosen,
    runs: times,
    elapsedMs: Math.round(performance.now() - started),
    reproduced: { times: failed, of: times },
    ...(failed === 0 ? { flaky: true } : {}),
  };
}
