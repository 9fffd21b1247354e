import { describe, expect, it } from 'vitest';
import type { StepEvent } from '../../src/tester/history.js';
import {
  type Counterexample,
  formatSteps,
  formatSummary,
  type ReportStep,
  type StressSummary,
  toReportStep,
} from '../../src/tester/report.js';

function event(overrides: Partial<StepEvent>): StepEvent {
  return {
    index: 0,
    actor: 'owner',
    op: 'write',
    args: { path: 'src/alpha.ts', token: 'zqaxa' },
    pid: 1234,
    start: 10,
    end: 12.5,
    outcome: 'ok',
    ok: true,
    ...overrides,
  };
}

const LOCK =
  'IO Error: Could not set lock on file "/tmp/x/index.duckdb": Conflicting lock is held in node (PID 1234)';

const STEPS: ReportStep[] = [
  { actor: 'owner', op: 'write', args: { path: 'src/alpha.ts', token: 'zqaxa' }, ok: true, ms: 3.21 },
  { actor: 'reader', op: 'open', args: {}, ok: false, error: `${LOCK}\nstack line\nmore`, ms: 0.5 },
];

const COUNTEREXAMPLE: Counterexample = {
  steps: STEPS,
  originalLength: 9,
  shrinks: 14,
  kind: 'locked',
  error: `lock conflict: reader.open failed: ${LOCK}\nsecond line`,
  replay: 'es1.abc',
  replayCommand: 'npx embecode-stress replay es1.abc',
};

const BASE: StressSummary = {
  strategy: 'readonly-direct',
  status: 'passed',
  runs: 30,
  seed: 42,
  elapsedMs: 1234,
};

describe('toReportStep', () => {
  it('keeps actor, op, args and outcome, and rounds the duration to hundredths', () => {
    expect(toReportStep(event({ start: 1, end: 4.123456 }))).toEqual({
      actor: 'owner',
      op: 'write',
      args: { path: 'src/alpha.ts', token: 'zqaxa' },
      ok: true,
      ms: 3.12,
    });
    expect(toReportStep(event({ start: 0, end: 2.005 })).ms).toBeCloseTo(2.01, 2);
    expect(toReportStep(event({ start: 5, end: 5 })).ms).toBe(0);
  });

  it('keeps the error only when there is one, and drops history-only fields', () => {
    const failed = toReportStep(
      event({ ok: false, error: 'boom', errorKind: 'io', seen: ['x'], batch: 2, outcome: 'fail' }),
    );
    expect(failed).toEqual({
      actor: 'owner',
      op: 'write',
      args: failed.args,
      ok: false,
      error: 'boom',
      ms: 2.5,
    });
    expect(toReportStep(event({}))).not.toHaveProperty('error');
  });
});

describe('formatSteps', () => {
  it('prints one numbered line per step, with the first line of an error beneath it', () => {
    const lines = formatSteps(STEPS).split('\n');
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(/^ {2}1\. owner\.write\(path=src\/alpha\.ts, token=zqaxa\) +ok +3\.2 ms$/);
    expect(lines[1]).toMatch(/^ {2}2\. reader\.open\(\) +ERROR +0\.5 ms$/);
    expect(lines[2]).toBe(`     ${LOCK}`);
  });

  it('aligns numbers when there are ten steps or more', () => {
    const many = Array.from(
      { length: 12 },
      (_, i): ReportStep => ({
        actor: 'reader',
        op: 'search',
        args: { mode: 'bm25', token: `zq${i}`, n: i, deep: { a: [1] } },
        ok: true,
        ms: i * 10,
      }),
    );
    const lines = formatSteps(many).split('\n');
    expect(lines).toHaveLength(12);
    expect(lines[0]).toMatch(/^ {3}1\. reader\.search\(mode=bm25, token=zq0, n=0, deep=\{"a":\[1\]\}\)/);
    expect(lines[11]).toMatch(/^ {2}12\. /);
    expect(lines[11]).toMatch(/ok +110\.0 ms$/);
    expect(new Set(lines.map((line) => line.indexOf('reader')))).toEqual(new Set([6]));
  });

  it('prints nothing for no steps', () => {
    expect(formatSteps([])).toBe('');
  });

  it('folds three or more alike steps in a row (a streamed search) into one line numbered as they were', () => {
    const search = (ms: number, error?: string): ReportStep => ({
      actor: 'reader-2',
      op: 'search',
      args: { mode: 'vector', query: 'zqabsent', topK: 17 },
      ok: error === undefined,
      ...(error === undefined ? {} : { error }),
      ms,
    });
    const steps = [
      STEPS[0] as ReportStep,
      search(5),
      search(6),
      search(9, 'index x is closed'),
      search(7, 'index x is closed'),
      search(8, 'index x is closed'),
      search(4),
    ];
    const lines = formatSteps(steps).split('\n');
    expect(lines).toHaveLength(6);
    expect(lines[1]).toMatch(/^ {2}2\. reader-2\.search\(.*\) +ok +5\.0 ms$/);
    expect(lines[2]).toMatch(/^ {2}3\. reader-2\.search/);
    expect(lines[3]).toMatch(/^ {2}4-6\. reader-2\.search\(.*\) +ERROR 7\.0-9\.0 ms x3$/);
    expect(lines[4]).toBe('     index x is closed');
    expect(lines[5]).toMatch(/^ {2}7\. /);
  });
});

describe('formatSummary', () => {
  it('is one quiet line when the contract held', () => {
    expect(formatSummary(BASE)).toBe(
      'embecode-stress: readonly-direct: contract held in 30 runs (seed 42, 1.2 s)',
    );
    expect(formatSummary({ ...BASE, runs: 7, interrupted: true })).toBe(
      'embecode-stress: readonly-direct: contract held in 7 runs (seed 42, 1.2 s) (time limit reached)',
    );
  });

  it('says which watched goals a passing suite missed, without failing it', () => {
    expect(formatSummary({ ...BASE, missedWatched: ['a reader lock conflict retried'] })).toBe(
      'embecode-stress: readonly-direct: contract held in 30 runs (seed 42, 1.2 s)\nnot reached (watched, not a failing goal): a reader lock conflict retried',
    );
  });

  it('is one line with the reason on a set-up error', () => {
    expect(formatSummary({ ...BASE, status: 'error', reason: 'no such strategy' })).toBe(
      'embecode-stress: readonly-direct: error: no such strategy',
    );
    expect(formatSummary({ ...BASE, status: 'error' })).toBe(
      'embecode-stress: readonly-direct: error: unknown',
    );
  });

  it('tells the whole story of a failure, ending with the replay command', () => {
    const text = formatSummary({ ...BASE, status: 'failed', runs: 3, counterexample: COUNTEREXAMPLE });
    const lines = text.split('\n');
    expect(lines[0]).toBe('embecode-stress: readonly-direct: FAILED after 3 runs (seed 42, 1.2 s)');
    expect(lines[1]).toBe('minimal trace: 2 steps (shrunk from 9 in 14 shrinks)');
    expect(text).toContain(formatSteps(STEPS));
    expect(text).not.toContain('second line');
    expect(text).not.toContain('stack line');
    expect(lines.at(-1)).toBe('replay with: npx embecode-stress replay es1.abc');
  });

  it("prints the failing step's error once: the error line points at the step above", () => {
    const text = formatSummary({ ...BASE, status: 'failed', runs: 3, counterexample: COUNTEREXAMPLE });
    expect(text.split(LOCK)).toHaveLength(2);
    expect(text).toContain('error: lock conflict: reader.open failed: see step 2 above\n');
    // An error that no step carries is printed whole.
    const own = { ...COUNTEREXAMPLE, error: 'results differ: bm25 top-10 lists differ' };
    expect(formatSummary({ ...BASE, status: 'failed', counterexample: own })).toContain(
      'error: results differ: bm25 top-10 lists differ\n',
    );
  });

  it('counts generated runs in "FAILED after", and shrink runs apart', () => {
    const text = formatSummary({
      ...BASE,
      status: 'failed',
      runs: 4,
      shrinkRuns: 20,
      counterexample: COUNTEREXAMPLE,
    });
    expect(text.split('\n')[0]).toBe(
      'embecode-stress: readonly-direct: FAILED after 4 runs (seed 42, 1.2 s; 20 shrink runs after that)',
    );
    const first = formatSummary({
      ...BASE,
      status: 'failed',
      runs: 1,
      shrinkRuns: 1,
      counterexample: COUNTEREXAMPLE,
    });
    expect(first.split('\n')[0]).toBe(
      'embecode-stress: readonly-direct: FAILED after 1 run (seed 42, 1.2 s; 1 shrink run after that)',
    );
  });

  it('says a temp directory named in the messages was removed, and only when they name it', () => {
    const dir = '/tmp/embecode-stress-readonly-direct-Bg4JKJ';
    const lock = LOCK.replace('/tmp/x', `${dir}/run-21`);
    const named: Counterexample = {
      ...COUNTEREXAMPLE,
      steps: [STEPS[0] as ReportStep, { ...(STEPS[1] as ReportStep), error: lock }],
      error: `lock conflict: reader.open failed: ${lock}`,
      removedDir: dir,
      artifact: '/work/.stress/x',
    };
    const text = formatSummary({ ...BASE, status: 'failed', counterexample: named });
    expect(text).toContain(
      `note: ${dir}, named above, was the runs' temp directory and was removed when the check ended; the artifact keeps the histories\n`,
    );
    const unnamed = { ...COUNTEREXAMPLE, removedDir: dir };
    expect(formatSummary({ ...BASE, status: 'failed', counterexample: unnamed })).not.toContain('note:');
  });

  it('says on a replay that the trace is the recorded one, not "shrunk from N in 0 shrinks"', () => {
    const text = formatSummary({
      ...BASE,
      status: 'failed',
      runs: 5,
      reproduced: { times: 5, of: 5 },
      counterexample: { ...COUNTEREXAMPLE, shrinks: 0, originalLength: 2 },
    });
    const lines = text.split('\n');
    expect(lines[0]).toBe(
      'embecode-stress: readonly-direct: replayed counterexample FAILED (seed 42, 1.2 s)',
    );
    expect(lines[1]).toBe('trace: 2 steps, as the replay token recorded them (a replay does not shrink)');
    expect(text).not.toContain('shrunk');
    expect(text).toContain('reproduced 5/5\n');
    // A run whose first failure could not be shortened does not claim "shrunk from 1 in 0 shrinks" either.
    const unshrunk = { ...COUNTEREXAMPLE, steps: STEPS.slice(0, 1), shrinks: 0, originalLength: 1 };
    expect(formatSummary({ ...BASE, status: 'failed', counterexample: unshrunk }).split('\n')[1]).toBe(
      'minimal trace: 1 step (the failing run as it was: no shorter one failed)',
    );
  });

  it('says "1 step", and names the kept directory when there is one', () => {
    const one = { ...COUNTEREXAMPLE, steps: STEPS.slice(0, 1), artifact: '/tmp/embecode-stress-1' };
    const text = formatSummary({ ...BASE, status: 'failed', counterexample: one });
    expect(text).toContain('minimal trace: 1 step (shrunk');
    expect(text.split('\n').some((line) => line.includes('/tmp/embecode-stress-1'))).toBe(true);
    expect(text.split('\n').at(-1)).toBe('replay with: npx embecode-stress replay es1.abc');
  });

  it('states the 1-minimal claim and the race-or-logic class of a judged failure', () => {
    const judged = {
      ...COUNTEREXAMPLE,
      minimality: '1-minimal: removing any one step makes it pass 3/3',
      failureClass: { class: 'race' as const, failed: 2, of: 5, text: 'fails 2/5: a race' },
    };
    const lines = formatSummary({ ...BASE, status: 'failed', counterexample: judged }).split('\n');
    expect(lines).toContain('1-minimal: removing any one step makes it pass 3/3');
    expect(lines).toContain('replays of the minimal trace: fails 2/5: a race');
    const plain = formatSummary({ ...BASE, status: 'failed', counterexample: COUNTEREXAMPLE });
    expect(plain).not.toMatch(/1-minimal|replays of the minimal trace/);
  });

  it('still says it failed when there is no counterexample', () => {
    expect(formatSummary({ ...BASE, status: 'failed' })).toBe(
      'embecode-stress: readonly-direct: failed (seed 42)',
    );
  });
});
