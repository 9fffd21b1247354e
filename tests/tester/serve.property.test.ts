import { describe, expect, it } from 'vitest';
import { runStress } from '../../src/tester/harness.js';
import { formatSummary } from '../../src/tester/report.js';
import { parseCount, settingsFromEnv } from '../../src/tester/settings.js';

/**
 * The serve target in the property suite: real `embecode serve` processes with faults, a small
 * number of runs (each starts processes; `npm run test:property` stays under three minutes), seed
 * from STRESS_SEED like the rest. STRESS_SERVE_RUNS overrides the count for longer runs; the
 * 1,000-run figure is in `npm run bench` ("serve target").
 */
const runs =
  process.env.STRESS_SERVE_RUNS === undefined
    ? 12
    : parseCount(process.env.STRESS_SERVE_RUNS, 'STRESS_SERVE_RUNS');

describe('serve target', () => {
  it('real serve processes hold the serve contract through kills, takeovers and file changes', async () => {
    const base = settingsFromEnv('ipc');
    const summary = await runStress({ ...base, target: 'serve', faults: true, runs, timeLimitS: 40 });
    expect(summary.status, formatSummary(summary)).toBe('passed');
    // A passing run that never did the interesting things would prove nothing.
    const steps = summary.reach?.steps ?? {};
    const count = (suffix: string) =>
      Object.entries(steps)
        .filter(([k]) => k.endsWith(suffix))
        .reduce((n, [, v]) => n + v, 0);
    expect(count('.search'), formatSummary(summary)).toBeGreaterThan(0);
    expect(count('.catch-up'), formatSummary(summary)).toBeGreaterThan(0);
    expect(count('.sigkill') + count('.sigterm'), formatSummary(summary)).toBeGreaterThan(0);
  }, 240_000);
});
