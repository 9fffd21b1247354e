import { describe, expect, it } from 'vitest';
import { COMMAND_KINDS } from '../../src/tester/commands/swarm.js';
import type { StepEvent } from '../../src/tester/history.js';
import {
  addReach,
  COMMON_GOALS,
  commandKindGoals,
  goalsFor,
  NO_REACH,
  reachJudged,
  reachOf,
  unreached,
  watchedFor,
} from '../../src/tester/reach.js';
import { formatSummary } from '../../src/tester/report.js';
import { DEFAULTS } from '../../src/tester/settings.js';

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

  it('counts lock conflicts retried on each side, and keeps the longest wait as a maximum', () => {
    const waits = (conflicts: number, longestWaitMs: number) => ({ lockWaits: { conflicts, longestWaitMs } });
    const run = reachOf([
      step({ actor: 'owner', op: 'write', start: 0, end: 5, detail: waits(2, 30) }),
      step({ actor: 'reader-1', op: 'open', start: 1, end: 4, detail: waits(1, 12) }),
      step({ actor: 'reader-2', op: 'search', start: 1, end: 9, results: [], detail: waits(3, 41.6) }),
    ]);
    expect(run).toMatchObject({ ownerConflictsRetried: 2, readerConflictsRetried: 4, longestLockWaitMs: 42 });
    const both = addReach(run, { ...run, longestLockWaitMs: 7 });
    expect(both).toMatchObject({
      ownerConflictsRetried: 4,
      readerConflictsRetried: 8,
      longestLockWaitMs: 42,
    });
  });

  it('counts kills mid-write, reader kills while open, WAL recoveries and searches on a superseded state', () => {
    const run = reachOf([
      step({ actor: 'owner', op: 'write', start: 0, end: 2 }),
      step({
        actor: 'reader-1',
        op: 'search',
        start: 1,
        end: 3,
        results: [row],
        args: { topK: 5 },
        matched: 0,
      }),
      step({ actor: 'owner', op: 'checkpoint', start: 2.5, end: 4 }),
      step({ actor: 'nemesis', op: 'kill-owner', start: 5, end: 6, args: { duringWrite: true } }),
      step({ actor: 'nemesis', op: 'kill-owner', start: 6, end: 7, args: {} }),
      step({ actor: 'owner', op: 'restart', start: 7, end: 8, args: { walBytes: 4096 } }),
      step({ actor: 'owner', op: 'restart', start: 8, end: 9, args: { walBytes: 0 } }),
      step({ actor: 'nemesis', op: 'kill-reader', start: 9, end: 10, args: { open: true } }),
      step({ actor: 'nemesis', op: 'kill-reader', start: 10, end: 11, args: { open: false } }),
    ]);
    expect(run).toMatchObject({
      ownerKillsMidWrite: 1,
      walRecoveries: 1,
      readerKillsWhileOpen: 1,
      // The search matched the empty state although the write was acknowledged before it ended.
      finishedOnRetired: 1,
      checkpointDuringSearch: 1,
      acknowledgedMutations: 1,
    });
  });

  it('each strategy declares its own goals: handoff must retry an owner conflict and watches for a reader one', () => {
    const options = { faults: false, readers: 2, intruder: true };
    const names = (strategy: string) => goalsFor(strategy, options).map((g) => g.name);
    expect(names('handoff')).toContain('an owner lock conflict retried');
    // 200 runs at seed 7 met no reader conflict: watched (reported), not failed.
    expect(names('handoff')).not.toContain('a reader lock conflict retried');
    expect(watchedFor('handoff').map((g) => g.name)).toEqual(['a reader lock conflict retried']);
    expect(unreached({ ...NO_REACH, readerConflictsRetried: 1 }, watchedFor('handoff'))).toEqual([]);
    expect(watchedFor('ipc')).toEqual([]);
    expect(names('snapshot')).toContain('a search finishing on a retired snapshot');
    expect(names('ipc')).not.toContain('a reader lock conflict retried');
    expect(goalsFor('ipc', { ...options, faults: true }).map((g) => g.name)).toEqual(
      expect.arrayContaining([
        'an owner killed in the middle of a write',
        'an owner restart that recovered rows from the WAL',
      ]),
    );
  });

  it('every command kind a run can use is a goal, whatever the mix or the drop list', () => {
    const full = { faults: true, readers: 2, intruder: true };
    expect(commandKindGoals(full).map((g) => g.name)).toEqual(COMMAND_KINDS.map((k) => `a ${k} command`));
    expect(commandKindGoals({ ...full, drop: ['ReaderSearch'] })).toHaveLength(COMMAND_KINDS.length);
    // Without faults there are no kills or restarts to expect.
    const calm = commandKindGoals({ readers: 2, intruder: true }).map((g) => g.name);
    expect(calm).toContain('a ReaderSearch command');
    expect(calm).not.toContain('a KillOwner command');
    const everyKind = Object.fromEntries(COMMAND_KINDS.map((k) => [k, 1]));
    expect(unreached({ ...NO_REACH, commands: everyKind }, commandKindGoals(full))).toEqual([]);
    const { ReaderSearch: _gone, ...withoutSearch } = everyKind;
    expect(unreached({ ...NO_REACH, commands: withoutSearch }, goalsFor('ipc', full))).toContain(
      'a ReaderSearch command',
    );
  });
});

describe('reachJudged', () => {
  it('judges a suite of at least the default run count, or of the lowered count a setting asks', () => {
    expect(reachJudged({}, DEFAULTS.runs)).toBe(true);
    expect(reachJudged({}, DEFAULTS.runs - 1)).toBe(false);
    expect(reachJudged({ reachMinRuns: 5 }, 5)).toBe(true);
    expect(reachJudged({ reachMinRuns: 6 }, 5)).toBe(false);
  });
});
