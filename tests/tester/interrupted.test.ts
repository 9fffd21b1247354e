import { describe, expect, it } from 'vitest';
import { OwnerWrite } from '../../src/tester/commands/owner-commands.js';
import type { ProgressEvent } from '../../src/tester/harness.js';
import type { StepEvent } from '../../src/tester/history.js';
import {
  interruptedSummary,
  interruptedWorkersSummary,
  repeatCommandFor,
} from '../../src/tester/interrupted.js';
import { NO_REACH } from '../../src/tester/reach.js';
import { decodeReplayToken } from '../../src/tester/replay-token.js';
import { formatSummary } from '../../src/tester/report.js';

const SETTINGS = { strategy: 'ipc', runs: 500, seed: 42, maxCommands: 12 };
const EVENT: ProgressEvent = {
  strategy: 'ipc',
  seed: 42,
  run: 37,
  runs: 500,
  generated: 37,
  skipped: 0,
  reach: { ...NO_REACH, searches: 9 },
};
const LOCK =
  'IO Error: Could not set lock on file "/tmp/x/index.db": Conflicting lock is held in node (PID 9)';
const failedStep: StepEvent = {
  index: 1,
  actor: 'reader-1',
  op: 'open',
  args: {},
  pid: 11,
  start: 0,
  end: 2,
  outcome: 'fail',
  ok: false,
  error: LOCK,
};

describe('repeatCommandFor', () => {
  it('spells out every setting, the seed included', () => {
    expect(
      repeatCommandFor({ ...SETTINGS, readers: 3, faults: true, stepDeadlineS: 5, timeLimitS: 60 }, 2),
    ).toBe(
      'npx embecode-stress run --strategy ipc --seed 42 --runs 500 --max-commands 12 --readers 3 --faults --step-deadline 5 --time-limit 60 --workers 2',
    );
  });
});

describe('an interrupted check', () => {
  it('reports the runs done, the seed, what they reached, and how to repeat or resume', () => {
    const summary = interruptedSummary(SETTINGS, EVENT, 12_300, 'SIGINT');
    expect(summary).toMatchObject({ status: 'passed', runs: 37, signal: 'SIGINT', requestedRuns: 500 });
    const lines = formatSummary(summary).split('\n');
    expect(lines[0]).toBe(
      'embecode-stress: ipc: interrupted by SIGINT after 37 runs of 500; the contract held in those (seed 42, 12.3 s)',
    );
    expect(lines[1]).toBe('what the runs reached:');
    expect(lines).toContain('  searches                                   9');
    expect(lines.at(-2)).toBe(
      'repeat with: npx embecode-stress run --strategy ipc --seed 42 --runs 500 --max-commands 12',
    );
    expect(lines.at(-1)).toBe(
      'resume with: npx embecode-stress run --strategy ipc --seed 42 --runs 500 --max-commands 12 --from-run 38',
    );
  });

  it('resumed, counts the runs under the seed; before any run ended, says 0 runs', () => {
    const resumed = interruptedSummary(
      { ...SETTINGS, fromRun: 101 },
      { ...EVENT, skipped: 100, generated: 1 },
      1000,
      'SIGTERM',
    );
    expect(formatSummary(resumed).split('\n')[0]).toBe(
      'embecode-stress: ipc: interrupted by SIGTERM after 101 runs of 500 (runs 1 to 100 skipped); the contract held in those (seed 42, 1.0 s)',
    );
    expect(resumed.resumeCommand).toMatch(/--from-run 102$/);
    const early = formatSummary(interruptedSummary(SETTINGS, undefined, 10, 'SIGINT'));
    expect(early.split('\n')[0]).toMatch(/after 0 runs of 500;/);
    expect(early).toMatch(/--from-run 1$/);
  });

  it('while shrinking, reports the smallest failure so far with a token that replays its commands', () => {
    const failure = {
      steps: [failedStep],
      stderr: '',
      kind: 'locked',
      message: `lock conflict: reader-1.open failed: ${LOCK}`,
      commands: [new OwnerWrite([])],
    };
    const summary = interruptedSummary(
      SETTINGS,
      { ...EVENT, run: 50, shrinkStep: 13, failure },
      2000,
      'SIGINT',
    );
    expect(summary.status).toBe('failed');
    const text = formatSummary(summary);
    expect(text.split('\n')[0]).toBe(
      'embecode-stress: ipc: interrupted by SIGINT while shrinking a failure found after 37 runs of 500 (seed 42, 2.0 s)',
    );
    expect(text).toContain('smallest trace so far: 1 step (after 13 shrink runs)\n');
    expect(text).toContain('error: lock conflict: reader-1.open failed: see step 1 above\n');
    expect(text).not.toContain('resume with:');
    const replay = /replay with: npx embecode-stress replay (\S+)/.exec(text)?.[1] ?? '';
    expect(decodeReplayToken(replay).commands).toEqual([{ c: 'OwnerWrite', a: [[]] }]);
  });

  it('with workers, judges no goals (the runs were cut short) and offers a repeat only', () => {
    const merged = {
      strategy: 'ipc',
      status: 'failed' as const,
      runs: 240,
      seed: 42,
      elapsedMs: 5000,
      reach: NO_REACH,
      unreached: ['a search'],
      reason: 'never reached: a search (seed 42)',
    };
    const summary = interruptedWorkersSummary(SETTINGS, merged, 2, 'SIGINT');
    expect(summary.status).toBe('passed');
    expect(summary).not.toHaveProperty('unreached');
    const text = formatSummary(summary);
    expect(text.split('\n')[0]).toMatch(
      /^embecode-stress: ipc: interrupted by SIGINT after 240 runs of 500;/,
    );
    expect(text.split('\n').at(-1)).toBe(
      'repeat with: npx embecode-stress run --strategy ipc --seed 42 --runs 500 --max-commands 12 --workers 2',
    );
  });
});

describe('an interrupted serve check', () => {
  const serve = { ...SETTINGS, target: 'serve' as const, faults: true };

  it('is named serve and repeats with --target serve, not with the strategy it never drove', () => {
    const summary = interruptedSummary(serve, { ...EVENT, strategy: 'serve' }, 12_300, 'SIGTERM');
    expect(summary.strategy).toBe('serve');
    expect(summary.repeatCommand).toBe(
      'npx embecode-stress run --target serve --seed 42 --runs 500 --max-commands 12 --faults',
    );
    expect(formatSummary(summary).split('\n')[0]).toMatch(/^embecode-stress: serve: interrupted by SIGTERM/);
  });
});
