import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
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
    expect(mergeSummaries(settings, [passed(50), passed(50)], 9)).toEqual({
      strategy: 'ipc',
      status: 'passed',
      runs: 100,
      seed: 42,
      elapsedMs: 9,
    });
  });

  it('fails with the counterexample of a failing worker', () => {
    const counterexample = {
      steps: [],
      originalLength: 3,
      shrinks: 2,
      kind: 'lock-conflict',
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

  it('reports a worker that could not run as an error', () => {
    const errored: StressSummary = { ...passed(0), status: 'error', reason: 'no owner' };
    expect(mergeSummaries(settings, [passed(50), errored], 9)).toMatchObject({
      status: 'error',
      reason: 'no owner',
    });
  });
});
