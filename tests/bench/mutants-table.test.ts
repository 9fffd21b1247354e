import { describe, expect, it } from 'vitest';
import type { Mutant } from '../../bench/mutants/mutant.js';
import { caughtEverywhere, classifyRun, type MutantResult } from '../../bench/mutants/outcome.js';
import { formatProblems, formatTable, summaryLine, traceLine } from '../../bench/mutants/table.js';

function mutant(id: string, strategy = 'ipc'): Mutant {
  return { id, strategy, description: '', file: 'src/x.ts', find: 'a', replace: 'b' };
}

const caughtAll: MutantResult = {
  mutant: mutant('owner-acks-early'),
  status: 'ran',
  seeds: [
    { seed: 1, verdict: 'caught', traceLength: 3, oneMinimal: true, failureClass: 'logic', seconds: 4.04 },
    {
      seed: 2,
      verdict: 'caught',
      traceLength: 2,
      oneMinimal: true,
      failureClass: 'race 2/5',
      seconds: 12.96,
    },
    { seed: 3, verdict: 'caught', traceLength: 5, oneMinimal: false, failureClass: 'logic', seconds: 7 },
  ],
};
const mixed: MutantResult = {
  mutant: mutant('snap', 'snapshot'),
  status: 'ran',
  seeds: [
    { seed: 1, verdict: 'survived', seconds: 20 },
    { seed: 2, verdict: 'hang', seconds: 300, detail: 'no report within 300 s' },
    { seed: 3, verdict: 'error', seconds: 1, detail: 'exit 2, status error: boom' },
  ],
};
const stale: MutantResult = {
  mutant: mutant('gone', 'handoff'),
  status: 'does-not-apply',
  reason: 'does not apply: src/x.ts has no "a"',
  seeds: [],
};

describe('formatTable', () => {
  it('prints one aligned row per mutant and the summary line', () => {
    expect(formatTable([caughtAll, mixed, stale]).split('\n')).toEqual([
      'id                strategy  caught  trace       class                 seconds',
      'owner-acks-early  ipc       3/3     3,2,5*      logic,race 2/5,logic  4.0,13.0,7.0',
      'snap              snapshot  0/3     -,hang,err  -,-,-                 20.0,300.0,1.0',
      'gone              handoff   -       does not apply: src/x.ts has no "a"',
      'caught on every seed: 1 of 3',
      'traces: median 3 steps (2-5) over 3 caught; 1-minimal 2 of 3; races 1',
    ]);
  });

  it('says so when nothing was caught, and takes the middle of an even count', () => {
    expect(traceLine([mixed])).toBe('traces: none caught');
    const four: MutantResult = {
      ...caughtAll,
      seeds: [...caughtAll.seeds, { seed: 4, verdict: 'caught', traceLength: 8, seconds: 1 }],
    };
    expect(traceLine([four])).toBe('traces: median 4 steps (2-8) over 4 caught; 1-minimal 2 of 4; races 1');
  });

  it('puts the time the two passes took beside the time to report without them', () => {
    const timed: MutantResult = {
      ...caughtAll,
      seeds: [
        { seed: 1, verdict: 'caught', traceLength: 3, oneMinimal: true, seconds: 12, judgedSeconds: 2 },
        { seed: 2, verdict: 'caught', traceLength: 3, oneMinimal: true, seconds: 10, judgedSeconds: 5 },
        { seed: 3, verdict: 'caught', traceLength: 3, oneMinimal: true, seconds: 10, judgedSeconds: 0 },
      ],
    };
    expect(traceLine([timed])).toBe(
      'traces: median 3 steps (3-3) over 3 caught; 1-minimal 3 of 3; races 0; time to report with the 1-minimal pass and race replays: median 1.20x (max 2.00x) of without them',
    );
  });

  it('counts only mutants caught on every seed', () => {
    const partly: MutantResult = {
      ...caughtAll,
      seeds: [...caughtAll.seeds.slice(0, 2), { seed: 3, verdict: 'survived', seconds: 1 }],
    };
    expect(summaryLine([caughtAll, partly, stale])).toBe('caught on every seed: 1 of 3');
    expect(caughtEverywhere({ ...caughtAll, seeds: [] })).toBe(false);
  });

  it('lists hangs and errors with their reasons', () => {
    expect(formatProblems([caughtAll, mixed])).toEqual([
      'snap seed 2: hang: no report within 300 s',
      'snap seed 3: error: exit 2, status error: boom',
    ]);
  });
});

describe('classifyRun', () => {
  const run = { seed: 1, stderr: '', timedOut: false, seconds: 2 };
  const failed = JSON.stringify({ status: 'failed', runs: 4, counterexample: { steps: [{}, {}, {}] } });

  it('is caught only on exit 1 with status failed, with the trace length', () => {
    expect(classifyRun({ ...run, exitCode: 1, stdout: `${failed}\n` })).toEqual({
      seed: 1,
      seconds: 2,
      verdict: 'caught',
      traceLength: 3,
      runs: 4,
    });
    expect(classifyRun({ ...run, exitCode: 2, stdout: failed }).verdict).toBe('error');
  });

  it('carries the 1-minimal claim and the race-or-logic class of a caught run', () => {
    const report = (minimality: string, failureClass: object) =>
      JSON.stringify({
        status: 'failed',
        counterexample: {
          steps: [{}],
          minimality,
          failureClass,
          judgedMs: { minimize: 1500, classify: 500 },
        },
      });
    const minimal = report('1-minimal: removing any one step makes it pass 3/3', {
      class: 'logic',
      failed: 5,
      of: 5,
    });
    expect(classifyRun({ ...run, exitCode: 1, stdout: minimal })).toMatchObject({
      oneMinimal: true,
      failureClass: 'logic',
      judgedSeconds: 2,
    });
    const undecided = report('not shown 1-minimal: the budget ran out', { class: 'race', failed: 2, of: 5 });
    expect(classifyRun({ ...run, exitCode: 1, stdout: undecided })).toMatchObject({
      oneMinimal: false,
      failureClass: 'race 2/5',
    });
  });

  it('is not caught when the suite failed only for goals it never reached (no counterexample)', () => {
    const unreached = JSON.stringify({
      status: 'failed',
      unreached: ['a ReaderSearch command'],
      reason: 'never reached: a ReaderSearch command (seed 1)',
    });
    expect(classifyRun({ ...run, exitCode: 1, stdout: unreached })).toMatchObject({
      verdict: 'error',
      detail: 'exit 1, status failed: never reached: a ReaderSearch command (seed 1)',
    });
  });

  it("keeps a caught run's error on one line, for a baseline that fails to say why", () => {
    const stdout = JSON.stringify({
      status: 'failed',
      counterexample: { steps: [{}], error: 'locks: serve 7 holds\nthe index' },
    });
    expect(classifyRun({ ...run, exitCode: 1, stdout })).toMatchObject({
      verdict: 'caught',
      error: 'locks: serve 7 holds the index',
    });
  });

  it('survives on exit 0 with status passed', () => {
    expect(classifyRun({ ...run, exitCode: 0, stdout: '{"status":"passed"}' }).verdict).toBe('survived');
  });

  it('calls a deadline kill a hang, whatever was printed', () => {
    expect(classifyRun({ ...run, exitCode: undefined, stdout: failed, timedOut: true }).verdict).toBe('hang');
  });

  it('reports an error with its reason on one line', () => {
    const error = classifyRun({ ...run, exitCode: 2, stdout: '{"status":"error","reason":"owner\\ndied"}' });
    expect(error).toMatchObject({ verdict: 'error', detail: 'exit 2, status error: owner died' });
    const crash = classifyRun({ ...run, exitCode: 1, stdout: '', stderr: 'TypeError: x\n   at y' });
    expect(crash.detail).toBe('exit 1, status none: TypeError: x at y');
  });
});
