import { describe, expect, it } from 'vitest';
import {
  DEFAULT_DEADLINE_S,
  DEFAULT_SEEDS,
  FlagError,
  parseFlags,
  type SuiteOptions,
  selectMutants,
} from '../../bench/mutants/flags.js';
import type { Mutant } from '../../bench/mutants/mutant.js';

/** The one-line FlagError `argv` gets. */
function flagError(argv: string[]): string {
  try {
    parseFlags(argv);
  } catch (error) {
    expect(error).toBeInstanceOf(FlagError);
    const message = (error as Error).message;
    expect(message).not.toMatch(/[\r\n]/);
    return message;
  }
  throw new Error(`expected ${JSON.stringify(argv)} to be refused`);
}

describe('parseFlags', () => {
  it('defaults: seeds 1,2,3, one at a time, 300 s, HEAD', () => {
    expect(parseFlags([])).toEqual({
      seeds: DEFAULT_SEEDS,
      concurrency: 1,
      deadlineS: DEFAULT_DEADLINE_S,
      rev: 'HEAD',
      worktree: false,
      json: false,
      help: false,
    });
    expect(DEFAULT_SEEDS).toEqual([1, 2, 3]);
    expect(DEFAULT_DEADLINE_S).toBe(300);
  });

  it('passes --swarm / --no-swarm through, once', () => {
    expect(parseFlags(['--no-swarm']).swarm).toBe(false);
    expect(parseFlags(['--swarm']).swarm).toBe(true);
    expect(parseFlags([]).swarm).toBeUndefined();
    expect(flagError(['--swarm', '--no-swarm'])).toMatch(/give one of them, once/);
  });

  it('reads every flag, in both --flag value and --flag=value forms', () => {
    const options = parseFlags([
      '--only',
      'a, b',
      '--seeds=7,-2',
      '--strategy',
      'ipc',
      '--concurrency=2',
      '--deadline-s',
      '12.5',
      '--rev',
      'main~1',
      '--json',
    ]);
    expect(options).toMatchObject({
      only: ['a', 'b'],
      seeds: [7, -2],
      strategy: 'ipc',
      concurrency: 2,
      deadlineS: 12.5,
      rev: 'main~1',
      json: true,
    });
    expect(parseFlags(['--worktree']).worktree).toBe(true);
  });

  it.each([
    [['--concurrency', '0'], /--concurrency must be a positive integer, got "0"/],
    [['--concurrency', '1.5'], /--concurrency must be a positive integer/],
    [['--seeds', '1,,2'], /--seeds needs a comma-separated list/],
    [['--seeds', '1,x'], /--seeds takes integers, got "x"/],
    [['--seeds', '1,1'], /lists a seed twice/],
    [['--seeds', '99999999999'], /--seeds takes integers/],
    [['--deadline-s', '-3'], /--deadline-s must be a positive number of seconds/],
    [['--deadline-s', 'soon'], /--deadline-s must be a positive number/],
    [['--only'], /--only needs a value/],
    [['--only', '--json'], /--only needs a value/],
    [['--strategy', ' '], /--strategy needs a strategy name/],
    [['--rev', 'HEAD', '--worktree'], /exclude each other/],
    [['--seeds', '1', '--seeds', '2'], /--seeds is given twice/],
    [['--bogus'], /unknown argument "--bogus"; usage:/],
    [['extra'], /unknown argument "extra"/],
  ])('refuses %j on one line', (argv, expected) => {
    expect(flagError(argv)).toMatch(expected);
  });

  it('quotes hostile input and cuts it short', () => {
    const message = flagError(['--concurrency', `1\n${'9'.repeat(100)}`]);
    expect(message).toContain('\\n');
    expect(message.length).toBeLessThan(120);
  });
});

describe('selectMutants', () => {
  const catalog: Mutant[] = [
    { id: 'a', strategy: 'ipc', description: '', file: 'f', find: 'x', replace: 'y' },
    { id: 'b', strategy: 'snapshot', description: '', file: 'f', find: 'x', replace: 'y' },
    { id: 'c', strategy: 'ipc', description: '', file: 'f', find: 'x', replace: 'y' },
  ];
  const options = (extra: Partial<SuiteOptions>): SuiteOptions => ({ ...parseFlags([]), ...extra });

  it('selects all, by id, by strategy, or both, in catalog order', () => {
    expect(selectMutants(catalog, options({})).map((m) => m.id)).toEqual(['a', 'b', 'c']);
    expect(selectMutants(catalog, options({ only: ['c', 'a'] })).map((m) => m.id)).toEqual(['a', 'c']);
    expect(selectMutants(catalog, options({ strategy: 'ipc' })).map((m) => m.id)).toEqual(['a', 'c']);
    expect(
      selectMutants(catalog, options({ only: ['a', 'b'], strategy: 'snapshot' })).map((m) => m.id),
    ).toEqual(['b']);
  });

  it('refuses unknown ids and strategies instead of running nothing', () => {
    expect(() => selectMutants(catalog, options({ only: ['a', 'zz'] }))).toThrow(
      /--only names no mutant "zz"/,
    );
    expect(() => selectMutants(catalog, options({ strategy: 'handoff' }))).toThrow(
      /has no mutants; choose one of ipc, snapshot/,
    );
    expect(() => selectMutants(catalog, options({ only: ['b'], strategy: 'ipc' }))).toThrow(
      /select no mutant/,
    );
  });
});
