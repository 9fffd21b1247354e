import { describe, expect, it } from 'vitest';
import { runSequence, runStress } from '../../src/tester/harness.js';
import { formatSummary } from '../../src/tester/report.js';
import { batch, open, search, searches, write } from './stress-steps.js';

export interface ConformanceOptions {
  /** The generated runs' seed (STRESS_SEED overrides it, to replay a CI failure locally). */
  readonly seed: number;
}

/**
 * What every access strategy must pass under the tester, whatever its contract: searches racing
 * a write, then a search after the batch that sees the write, and 5 generated runs (the property suite runs 200). Each
 * strategy's integration file calls this once and keeps its own contract-specific tests.
 */
export function strategyConformance(strategy: string, options: ConformanceOptions): void {
  describe(`${strategy}: the sequences every strategy passes`, () => {
    // Four searches (each mode, two tokens) racing a write to another slot, then to the same slot:
    // whatever each racing search saw, the search after the batch sees the write.
    for (const slot of [1, 0]) {
      it(`four searches racing a write to slot ${slot}, then a search that sees it`, async () => {
        const history = await runSequence(strategy, [
          write(0, 'a', 1),
          open(),
          batch(
            [
              { mode: 'bm25', pick: 0 },
              { mode: 'hybrid', pick: 0 },
              { mode: 'vector', pick: 0 },
              { mode: 'bm25', pick: 1 },
            ],
            slot,
            'b',
          ),
          search('bm25', 0),
        ]);
        expect(history.every((e) => e.ok)).toBe(true);
        expect(searches(history).at(-1)?.seen).toEqual(['zqbxb']);
      });
    }

    it('holds its contract over 5 generated runs', async () => {
      const seed = Number(process.env.STRESS_SEED ?? options.seed);
      const summary = await runStress({ strategy, runs: 5, seed, maxCommands: 12 }, { artifacts: false });
      expect(summary.status, formatSummary(summary)).toBe('passed');
      expect(summary.runs).toBe(5);
    }, 120_000);
  });
}
