import { describe, expect, it } from 'vitest';
import type { ProgressEvent } from '../../src/tester/harness.js';
import { describeProgress } from '../../src/tester/progress.js';
import { NO_REACH } from '../../src/tester/reach.js';

const EVENT: ProgressEvent = {
  strategy: 'ipc',
  seed: -1219214415,
  run: 40,
  runs: 200,
  generated: 40,
  skipped: 0,
  reach: NO_REACH,
};

describe('describeProgress', () => {
  it('carries the seed, so a run stopped any way at all can be repeated', () => {
    expect(describeProgress(EVENT, 20)).toBe('ipc: 40/200 runs, 2.0 runs/s, ETA 80 s, seed -1219214415');
    expect(describeProgress({ ...EVENT, run: 55, shrinkStep: 15 }, 30)).toBe(
      'ipc: counterexample found, shrinking step 15 (30 s, seed -1219214415)',
    );
  });

  it('counts runs under the seed when --from-run skipped some, and the rate from this invocation only', () => {
    expect(describeProgress({ ...EVENT, skipped: 100, runs: 100, generated: 10, run: 10 }, 10)).toBe(
      'ipc: 110/200 runs, 1.0 runs/s, ETA 90 s, seed -1219214415',
    );
  });
});
