import { describe, expect, it } from 'vitest';
import type { StepEvent } from '../../src/tester/history.js';
import { addReach, COMMON_GOALS, NO_REACH, reachOf, unreached } from '../../src/tester/reach.js';
import { formatSummary } from '../../src/tester/report.js';

function step(partial: Partial<StepEvent> & Pick<StepEvent, 'actor' | 'op' | 'start' | 'end'>): StepEvent {
  return { index: 0, args: {}, pid: 1, outcome: 'ok', ok: true, ...partial };
}

const row = { path: 'src/a.ts', startLine: 1, endLine: 2, score: 1 };

describe('reach', () => {
  const history: StepEvent[] = [
    step({ actor: 'owner', op: 'write', start: 0, end: 10, args: { paths: ['src/a.ts'] } }),
    step({
      actor: 'reader-1',
      op: 'search',
      start: 5,
      end: 6,
      args: { topK: 1 },
      results: [row],
      matched: 0,
    }),
    step({
      actor: 'reader-2',
      op: 'search',
      start: 5.5,
      end: 7,
      args: { topK: 5, pathPrefix: 'src/' },
      results: [],
    }),
    step({ actor: 'owner', op: 'checkpoint', start: 11, end: 12 }),
    step({ actor: 'intruder', op: 'probe', start: 13, end: 14, detail: { gotIn: false } }),
    step({
      actor: 'reader-1',
      op: 'search',
      start: 15,
      end: 16,
      outcome: 'fail',
      ok: false,
      errorKind: 'unavailable',
    }),
  ];

  it('counts what a history exercised', () => {
    const reach = reachOf(history);
    expect(reach).toMatchObject({
      searches: 2,
      truncated: 1,
      pathFiltered: 1,
      emptyResults: 1,
      racingMutation: 2,
      racingCheckpointOrRelease: 0,
      matchedOlderState: 1,
      readersOverlapping: 2,
      intruderRefused: 1,
      intruderGotIn: 0,
      toldToRetry: 1,
    });
    expect(reach.steps).toMatchObject({ 'owner.write': 1, 'reader.search': 3, 'intruder.probe': 1 });
  });

  it('adds up over runs and names the goals never reached', () => {
    const twice = addReach(reachOf(history), reachOf(history));
    expect(twice.searches).toBe(4);
    expect(twice.steps['reader.search']).toBe(6);
    expect(unreached(twice, COMMON_GOALS)).toEqual(['a search racing a checkpoint or release']);
    expect(unreached(NO_REACH, COMMON_GOALS)).toHaveLength(COMMON_GOALS.length);
  });

  it('a suite that never reached a goal reports it as a failure with the seed', () => {
    const text = formatSummary({
      strategy: 'ipc',
      status: 'failed',
      runs: 200,
      seed: 42,
      elapsedMs: 1000,
      reach: reachOf(history),
      unreached: ['a search racing a checkpoint or release'],
    });
    expect(text).toMatch(
      /FAILED: the contract held in 200 runs, but they never reached: a search racing a checkpoint or release \(seed 42/,
    );
    expect(text).toMatch(/truncated at top-k/);
  });
});
