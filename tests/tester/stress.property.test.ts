import { describe, expect, it } from 'vitest';
import { strategyNames } from '../../src/strategies/registry.js';
import { markNoLongerFails, savedFailures } from '../../src/tester/failure-db.js';
import { artifactsRootFromEnv, runStress } from '../../src/tester/harness.js';
import { replayCounterexample } from '../../src/tester/replay.js';
import { decodeReplayToken } from '../../src/tester/replay-token.js';
import { formatSummary } from '../../src/tester/report.js';
import { settingsFromEnv } from '../../src/tester/settings.js';
import { expectShrunkLockConflict } from './stress-expectations.js';

/**
 * The property suite (`npm run test:property`). Knobs: STRESS_RUNS, STRESS_SEED,
 * STRESS_MAX_COMMANDS, STRESS_TIME_LIMIT_S, STRESS_ARTIFACTS; STRESS_REPLAY=TOKEN replays one
 * counterexample instead of running the suite.
 */

const replay = process.env.STRESS_REPLAY;
/** The naive strategy, expected to fail; every other strategy must hold its contract. */
const NAIVE = 'readonly-direct';
const artifactsRoot = artifactsRootFromEnv();
/**
 * Each test may take as long as the time limit allows (plus shrinking); without a limit, half an
 * hour. Long nightly runs should set STRESS_TIME_LIMIT_S: a limit ends a run with a summary,
 * while a vitest timeout would lose the seed.
 */
const limitS = process.env.STRESS_TIME_LIMIT_S;
const testTimeoutMs = limitS ? (Number(limitS) + 300) * 1000 : 30 * 60 * 1000;

if (replay !== undefined && replay !== '') {
  describe('replay', () => {
    it('replays STRESS_REPLAY', async () => {
      const summary = await replayCounterexample(decodeReplayToken(replay));
      // A reproduced counterexample fails this test, showing the same trace it had.
      expect(summary.status, formatSummary(summary)).toBe('passed');
    });
  });
} else {
  // Saved failures first, until they pass: a fixed bug proves it stays fixed.
  const saved = savedFailures(artifactsRoot).filter((f) => f.strategy !== NAIVE);
  describe.runIf(saved.length > 0)('saved failures', () => {
    it.each(saved)(
      '$dir no longer fails',
      async (failure) => {
        const summary = await replayCounterexample(decodeReplayToken(failure.token), 3);
        expect(summary.status, formatSummary(summary)).toBe('passed');
        markNoLongerFails(failure, summary);
      },
      testTimeoutMs,
    );
  });

  describe(`${NAIVE}: the tester finds and shrinks the lock conflict`, () => {
    const base = settingsFromEnv(NAIVE);
    // Five distinct seeds derived from STRESS_SEED, so nightly shards explore different ones.
    const seeds = [0, 1, 2, 3, 4].map((i) => (base.seed + i * 7919) | 0);
    it.each(seeds)(
      'seed %i',
      async (seed) => {
        const summary = await runStress({ ...base, seed }, { artifacts: false });
        expectShrunkLockConflict(summary);
      },
      testTimeoutMs,
    );
  });

  describe.each(strategyNames().filter((name) => name !== NAIVE))('%s holds its contract', (strategy) => {
    it(
      `${strategy}: passes the stress property`,
      async () => {
        // A failure is kept under STRESS_ARTIFACTS (default .stress/) and replayed first next time.
        const summary = await runStress(settingsFromEnv(strategy));
        expect(summary.status, formatSummary(summary)).toBe('passed');
      },
      testTimeoutMs,
    );
  });
}
