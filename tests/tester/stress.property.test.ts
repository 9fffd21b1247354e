import { describe, expect, it } from 'vitest';
import { strategyNames } from '../../src/strategies/registry.js';
import { markNoLongerFails, savedFailures } from '../../src/tester/failure-db.js';
import { artifactsRootFromEnv, runStress } from '../../src/tester/harness.js';
import { replayCounterexample } from '../../src/tester/replay.js';
import { decodeReplayToken } from '../../src/tester/replay-token.js';
import { formatSummary } from '../../src/tester/report.js';
import { RunHistory } from '../../src/tester/run-history.js';
import { settingsFromEnv } from '../../src/tester/settings.js';
import { expectShrunkLockConflict } from './stress-expectations.js';

/**
 * The property suite (`npm run test:property`). Knobs: STRESS_RUNS, STRESS_SEED,
 * STRESS_MAX_COMMANDS, STRESS_TIME_LIMIT_S, STRESS_ARTIFACTS, STRESS_HISTORY (a directory for a
 * line per generated run); STRESS_REPLAY=TOKEN replays one
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

  // The history of every generated run, when asked for (the nightly keeps it as an artifact).
  const historyDir = process.env.STRESS_HISTORY;
  const historyFor = (strategy: string, seed: number) =>
    historyDir === undefined || historyDir === ''
      ? undefined
      : RunHistory.open(historyDir, strategy, seed, 'STRESS_HISTORY');

  describe(`${NAIVE} (expected to fail: readers open the file directly)`, () => {
    const base = settingsFromEnv(NAIVE);
    // Five distinct seeds derived from STRESS_SEED, so nightly shards explore different ones.
    const cases = [0, 1, 2, 3, 4].map((i) => ({ i, seed: (base.seed + i * 7919) | 0, from: base.seed }));
    it.each(cases)(
      'the tester finds the lock conflict and shrinks it to at most 2 steps (seed $seed = STRESS_SEED $from + $i × 7919)',
      async ({ seed }) => {
        const summary = await runStress({ ...base, seed }, { artifacts: false });
        console.log(formatSummary(summary).split('\n')[0]);
        expectShrunkLockConflict(summary);
      },
      testTimeoutMs,
    );
  });

  describe.each(strategyNames().filter((name) => name !== NAIVE))('%s holds its contract', (strategy) => {
    it(
      `${strategy}: passes the stress property`,
      async () => {
        const settings = settingsFromEnv(strategy);
        const history = historyFor(strategy, settings.seed);
        try {
          // A failure is kept under STRESS_ARTIFACTS (default .stress/) and replayed first next time.
          const summary = await runStress(settings, history === undefined ? {} : { history });
          // The seed on a pass too, so any run can be repeated: the summary's first line carries it.
          console.log(formatSummary(summary));
          expect(summary.status, formatSummary(summary)).toBe('passed');
        } finally {
          history?.close();
        }
      },
      testTimeoutMs,
    );
  });
}
