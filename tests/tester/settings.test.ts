import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import {
  DEFAULTS,
  parseCount,
  parseReachMinRuns,
  parseSeconds,
  parseSeed,
  randomSeed,
  settingsFromEnv,
} from '../../src/tester/settings.js';

/** `action` fails with a one-line usage error that names `name`. */
function expectUsageError(action: () => unknown, name: string): void {
  let caught: unknown;
  try {
    action();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EmbecodeError);
  const error = caught as EmbecodeError;
  expect(error.kind).toBe('usage');
  expect(error.message).toContain(name);
  expect(error.message).not.toMatch(/[\r\n]/);
}

describe('settingsFromEnv', () => {
  it('uses the defaults when no knob is set', () => {
    const settings = settingsFromEnv('readonly-direct', {});
    expect(settings).toMatchObject({
      strategy: 'readonly-direct',
      runs: DEFAULTS.runs,
      maxCommands: DEFAULTS.maxCommands,
    });
    expect(Number.isSafeInteger(settings.seed)).toBe(true);
    expect(settings).not.toHaveProperty('timeLimitS');
    expect(settings).not.toHaveProperty('path');
    expect(DEFAULTS).toEqual({ runs: 200, maxCommands: 12, readers: 2, stepDeadlineS: 20 });
  });

  it('reads every knob', () => {
    expect(
      settingsFromEnv('ipc', {
        STRESS_RUNS: '250',
        STRESS_SEED: '-17',
        STRESS_MAX_COMMANDS: ' 40 ',
        STRESS_TIME_LIMIT_S: '2.5',
      }),
    ).toEqual({ strategy: 'ipc', runs: 250, seed: -17, maxCommands: 40, timeLimitS: 2.5 });
  });

  it('reads the reader count and the step deadline, and refuses bad values in one line', () => {
    expect(
      settingsFromEnv('ipc', { STRESS_SEED: '1', STRESS_READERS: '3', STRESS_STEP_DEADLINE_S: '7.5' }),
    ).toMatchObject({
      readers: 3,
      stepDeadlineS: 7.5,
    });
    for (const bad of ['0', '-1', 'two', '', ' ', '9', '1.5']) {
      expect(() => settingsFromEnv('ipc', { STRESS_SEED: '1', STRESS_READERS: bad }), bad).toThrow(
        /^STRESS_READERS must be/,
      );
    }
    for (const bad of ['0', '-3', 'soon', '', 'NaN', 'Infinity']) {
      expect(() => settingsFromEnv('ipc', { STRESS_SEED: '1', STRESS_STEP_DEADLINE_S: bad }), bad).toThrow(
        /^STRESS_STEP_DEADLINE_S must be a positive number of seconds/,
      );
    }
  });

  it('reads the swarm knobs: STRESS_SWARM=0 turns swarm off, STRESS_DROP_KINDS leaves kinds out, STRESS_REACH_MIN_RUNS lowers the judged size', () => {
    expect(
      settingsFromEnv('ipc', {
        STRESS_SEED: '1',
        STRESS_SWARM: '0',
        STRESS_DROP_KINDS: 'ReaderSearch,RepeatSearch',
        STRESS_REACH_MIN_RUNS: '5',
      }),
    ).toMatchObject({ swarm: false, drop: ['ReaderSearch', 'RepeatSearch'], reachMinRuns: 5 });
    expect(settingsFromEnv('ipc', { STRESS_SEED: '1', STRESS_SWARM: '1' }).swarm).toBe(true);
    expectUsageError(() => settingsFromEnv('ipc', { STRESS_SWARM: 'off' }), 'STRESS_SWARM');
    expectUsageError(() => settingsFromEnv('ipc', { STRESS_DROP_KINDS: 'Search' }), 'STRESS_DROP_KINDS');
    expectUsageError(() => settingsFromEnv('ipc', { STRESS_DROP_KINDS: '' }), 'STRESS_DROP_KINDS');
    // Raising it would leave default-size suites unjudged: only lowering is allowed.
    expect(parseReachMinRuns(String(DEFAULTS.runs), 'N')).toBe(DEFAULTS.runs);
    for (const bad of ['0', String(DEFAULTS.runs + 1), 'many', '']) {
      expectUsageError(
        () => settingsFromEnv('ipc', { STRESS_REACH_MIN_RUNS: bad }),
        'STRESS_REACH_MIN_RUNS must be',
      );
    }
  });

  it('ignores variables it does not know', () => {
    const settings = settingsFromEnv('ipc', { STRESS_SEED: '1', STRESS_REPLAY: 'es1.x', PATH: '/bin' });
    expect(settings).toEqual({
      strategy: 'ipc',
      runs: DEFAULTS.runs,
      seed: 1,
      maxCommands: DEFAULTS.maxCommands,
    });
  });

  it('rejects bad counts with a one-line usage error naming the variable', () => {
    for (const name of ['STRESS_RUNS', 'STRESS_MAX_COMMANDS']) {
      for (const bad of [
        '-1',
        'abc',
        '1.5',
        '',
        ' ',
        '0',
        '1e3',
        '0x10',
        '10 runs',
        '99999999999999999999',
        '1\n2',
      ]) {
        expectUsageError(() => settingsFromEnv('ipc', { [name]: bad }), name);
      }
    }
  });

  it('rejects bad seeds and time limits with a one-line usage error naming the variable', () => {
    for (const bad of ['abc', '1.5', '', '--1', '2147483648', '-2147483648', '1e3', '4\n2']) {
      expectUsageError(() => settingsFromEnv('ipc', { STRESS_SEED: bad }), 'STRESS_SEED');
    }
    for (const bad of ['-1', '0', 'abc', '', ' ', 'Infinity', 'NaN', '1\n2']) {
      expectUsageError(() => settingsFromEnv('ipc', { STRESS_TIME_LIMIT_S: bad }), 'STRESS_TIME_LIMIT_S');
    }
  });
});

describe('the parsers', () => {
  it('parse counts, with zero only when allowed', () => {
    expect(parseCount('7', '--runs')).toBe(7);
    expect(parseCount('007', '--runs')).toBe(7);
    expect(parseCount('0', '--runs', { allowZero: true })).toBe(0);
    expectUsageError(() => parseCount('0', '--runs'), "--runs must be a positive integer, got '0'");
    expectUsageError(() => parseCount('-1', '--runs', { allowZero: true }), 'non-negative');
  });

  it('parse seeds in the 32-bit range', () => {
    expect(parseSeed('2147483647', '--seed')).toBe(0x7fffffff);
    expect(parseSeed('-2147483647', '--seed')).toBe(-0x7fffffff);
    expect(parseSeed(' 42 ', '--seed')).toBe(42);
  });

  it('parse seconds as positive numbers', () => {
    expect(parseSeconds('0.5', '--time-limit')).toBe(0.5);
    expect(parseSeconds('120', '--time-limit')).toBe(120);
  });

  it('round-trip any count and seed, and reject any other string with a one-line usage error', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: Number.MAX_SAFE_INTEGER }), (n) => {
        expect(parseCount(String(n), 'N')).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.integer({ min: -0x7fffffff, max: 0x7fffffff }), (n) => {
        expect(parseSeed(String(n), 'S')).toBe(n);
      }),
    );
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), (raw) => {
        for (const parse of [parseCount, parseSeed, parseSeconds]) {
          try {
            const value = parse(raw, 'KNOB');
            expect(Number.isFinite(value)).toBe(true);
          } catch (error) {
            expect(error).toBeInstanceOf(EmbecodeError);
            expect((error as EmbecodeError).kind).toBe('usage');
            expect((error as Error).message).not.toMatch(/[\r\n]/);
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  it('draws random seeds in the 32-bit range', () => {
    for (let i = 0; i < 100; i++) {
      const seed = randomSeed();
      expect(Number.isSafeInteger(seed)).toBe(true);
      expect(Math.abs(seed)).toBeLessThanOrEqual(0x80000000);
    }
  });
});
