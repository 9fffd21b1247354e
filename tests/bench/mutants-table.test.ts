import { describe, expect, it } from 'vitest';
import type { Mutant } from '../../bench/mutants/mutant.js';
import { caughtEverywhere, classifyRun, type MutantResult } from '../../bench/mutants/outcome.js';
import { formatProblems, formatTable, summaryLine } from '../../bench/mutants/table.js';

function mutant(id: string, strategy = 'ipc'): Mutant {
  return { id, strategy, description: '', file: 'src/x.ts', find: 'a', replace: 'b' };
}

const caughtAll: MutantResult = {
  mutant: mutant('owner-acks-early'),
  status: 'ran',
  seeds: [
    { seed: 1, verdict: 'caught', traceLength: 3, seconds: 4.04 },
    { seed: 2, verdict: 'caught', traceLength: 2, seconds: 12.96 },
    { seed: 3, verdict: 'caught', traceLength: 5, seconds: 7 },
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
      'id                strategy  caught  trace       seconds',
      'owner-acks-early  ipc       3/3     3,2,5       4.0,13.0,7.0',
      'snap              snapshot  0/3     -,hang,err  20.0,300.0,1.0',
      'gone              handoff   -       does not apply: src/x.ts has no "a"',
      'caught on every seed: 1 of 3',
    ]);
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
  const failed = JSON.stringify({ status: 'failed', counterexample: { steps: [{}, {}, {}] } });

  it('is caught only on exit 1 with status failed, with the trace length', () => {
    expect(classifyRun({ ...run, exitCode: 1, stdout: `${failed}\n` })).toEqual({
      seed: 1,
      seconds: 2,
      verdict: 'caught',
      traceLength: 3,
    });
    expect(classifyRun({ ...run, exitCode: 2, stdout: failed }).verdict).toBe('error');
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
