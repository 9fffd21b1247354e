import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { usableKinds } from '../../src/tester/commands/swarm.js';
import { NO_REACH, type Reach, reachOf } from '../../src/tester/reach.js';
import type { StressSummary } from '../../src/tester/report.js';
import {
  deriveSeed,
  mergeSummaries,
  parseShard,
  shardSettings,
  splitRuns,
} from '../../src/tester/workers.js';

const settings = { strategy: 'ipc', runs: 100, seed: 42, maxCommands: 12 };

describe('splitRuns', () => {
  it('shares every run out, as evenly as possible', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 100_000 }), fc.integer({ min: 1, max: 64 }), (runs, workers) => {
        const parts = splitRuns(runs, workers);
        expect(parts.reduce((a, b) => a + b, 0)).toBe(runs);
        expect(parts.length).toBe(Math.min(runs, workers));
        expect(Math.max(...parts) - Math.min(...parts)).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe('deriveSeed', () => {
  it('keeps the base seed for part 0, so one worker is a plain run', () => {
    expect(deriveSeed(42, 0)).toBe(42);
  });

  it('gives distinct 32-bit seeds to distinct parts', () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const seeds = Array.from({ length: 16 }, (_, k) => deriveSeed(seed, k));
        expect(new Set(seeds).size).toBe(16);
        for (const s of seeds) expect(Number.isSafeInteger(s) && Math.abs(s) <= 2 ** 31).toBe(true);
      }),
    );
  });
});

describe('parseShard and shardSettings', () => {
  it('reads i/n', () => {
    expect(parseShard('2/4')).toEqual({ index: 2, count: 4 });
    expect(parseShard(' 1 / 1 ')).toEqual({ index: 1, count: 1 });
  });

  it.each(['3/2', '0/2', '1/0', 'a/b', '2', '-1/2', ''])('refuses %j with a one-line usage error', (raw) => {
    let caught: unknown;
    try {
      parseShard(raw);
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EmbecodeError);
    expect((caught as EmbecodeError).kind).toBe('usage');
    expect((caught as Error).message).not.toContain('\n');
  });

  it('gives each shard its share of the runs and its own seed', () => {
    const shards = [1, 2, 3, 4].map((index) => shardSettings(settings, { index, count: 4 }));
    expect(shards.map((s) => s.runs)).toEqual([25, 25, 25, 25]);
    expect(new Set(shards.map((s) => s.seed)).size).toBe(4);
  });
});

describe('mergeSummaries', () => {
  const passed = (runs: number): StressSummary => ({
    strategy: 'ipc',
    status: 'passed',
    runs,
    seed: 1,
    elapsedMs: 5,
  });

  it('adds up runs and passes when every worker passed', () => {
    expect(mergeSummaries(settings, [passed(50), passed(50)], 9)).toMatchObject({
      strategy: 'ipc',
      status: 'passed',
      runs: 100,
      seed: 42,
      elapsedMs: 9,
    });
  });

  it('judges reach on the whole run: a goal one worker missed and another reached passes', () => {
    const reached = reachOf(
      [
        {
          index: 0,
          actor: 'owner',
          op: 'write',
          args: {},
          pid: 1,
          start: 0,
          end: 10,
          outcome: 'ok',
          ok: true,
        },
        {
          index: 1,
          actor: 'owner',
          op: 'checkpoint',
          args: {},
          pid: 1,
          start: 10,
          end: 20,
          outcome: 'ok',
          ok: true,
        },
        ...['reader-1', 'reader-2'].map((actor, i) => ({
          index: 2 + i,
          actor: actor as 'reader-1',
          op: 'search',
          args: { topK: 1, pathPrefix: 'src/' },
          pid: 2,
          start: 5,
          end: 15,
          outcome: 'ok' as const,
          ok: true,
          results: [{ path: 'src/a.ts', startLine: 1, endLine: 2, score: 1 }],
        })),
        {
          index: 4,
          actor: 'intruder',
          op: 'probe',
          args: {},
          pid: 3,
          start: 30,
          end: 31,
          outcome: 'ok',
          ok: true,
          detail: { gotIn: false },
        },
      ],
      usableKinds({ readers: 2, intruder: true }),
    );
    const half = (reach: typeof reached) => ({ ...passed(100), reach });
    expect(mergeSummaries(settings, [half(reached), half(NO_REACH)], 9).status).toBe('passed');
    const neither = mergeSummaries(settings, [half(NO_REACH), half(NO_REACH)], 9);
    expect(neither.status).toBe('failed');
    expect(neither.reason).toMatch(/^never reached: a search whose top-k truncated the list/);
  });

  it('fails with the counterexample of a failing worker', () => {
    const counterexample = {
      steps: [],
      originalLength: 3,
      shrinks: 2,
      kind: 'locked',
      error: 'lock conflict',
      replay: 'es1.x',
      replayCommand: 'npx embecode-stress replay es1.x',
    };
    const failed: StressSummary = { ...passed(7), status: 'failed', counterexample };
    const merged = mergeSummaries(settings, [passed(50), failed, undefined], 9);
    expect(merged.status).toBe('failed');
    expect(merged.counterexample).toBe(counterexample);
    expect(merged.runs).toBe(57);
  });

  it('keeps every worker profile (STRESS_PROFILE=1), and adds none when no worker had one', () => {
    const profile = (pid: number) => ({
      uptimeMs: 10,
      checkMs: 8,
      runs: 50,
      elu: 0.2,
      endedChildrenCpuMs: 0,
      processes: [
        {
          role: 'tester',
          pid,
          cpuMs: 1,
          runqueueWaitMs: 1,
          mainBlockedMs: 1,
          mainCpuMs: 1,
          mainRunqueueWaitMs: 1,
          lifeMs: 3,
        },
      ],
    });
    const merged = mergeSummaries(
      settings,
      [
        { ...passed(50), profiles: [profile(1)] },
        { ...passed(50), profiles: [profile(2)] },
      ],
      9,
    );
    expect(merged.profiles?.map((p) => p.processes[0]?.pid)).toEqual([1, 2]);
    expect(mergeSummaries(settings, [passed(50), passed(50)], 9)).not.toHaveProperty('profiles');
  });

  it('reports a worker that could not run as an error', () => {
    const errored: StressSummary = { ...passed(0), status: 'error', reason: 'no owner' };
    expect(mergeSummaries(settings, [passed(50), errored], 9)).toMatchObject({
      status: 'error',
      reason: 'no owner',
    });
  });
});

describe('mergeSummaries for the serve target', () => {
  const serveSettings = { ...settings, runs: 1000, target: 'serve' as const, faults: true };
  const serveReach: Reach = {
    ...NO_REACH,
    searches: 4,
    intruderRefused: 1,
    steps: { 'serve-1.catch-up': 2, 'nemesis.sigterm': 1, 'nemesis.sigkill': 1, 'nemesis.takeover': 1 },
  };
  const share = (reach: Reach): StressSummary => ({
    strategy: 'serve',
    status: 'passed',
    runs: 500,
    seed: 1,
    elapsedMs: 5,
    reach,
  });

  it("judges the serve goals, not a strategy's: serve runs never truncate a top-k the strategy way", () => {
    const merged = mergeSummaries(serveSettings, [share(serveReach), share(NO_REACH)], 9);
    expect(merged).toMatchObject({ strategy: 'serve', status: 'passed', runs: 1000 });
    expect(merged.missedWatched).toBeUndefined();
  });

  it('still fails a serve run that never reached a serve goal', () => {
    const { 'nemesis.sigkill': _gone, ...noKill } = serveReach.steps;
    const merged = mergeSummaries(serveSettings, [share({ ...serveReach, steps: noKill })], 9);
    expect(merged.status).toBe('failed');
    expect(merged.reason).toBe('never reached: a serve killed by SIGKILL (seed 42)');
  });
});
