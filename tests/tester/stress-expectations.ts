import { rmSync } from 'node:fs';
import { expect } from 'vitest';
import type { StressSummary } from '../../src/tester/report.js';
import { formatSummary } from '../../src/tester/report.js';

/**
 * The tester's own regression guard: on `readonly-direct` it must find DuckDB's lock conflict
 * and shrink it to at most two steps. Removes the kept artifact afterwards.
 */
export function expectShrunkLockConflict(summary: StressSummary): void {
  try {
    expect(summary.status, formatSummary(summary)).toBe('failed');
    const cx = summary.counterexample;
    expect(cx).toBeDefined();
    if (cx === undefined) return;
    expect(cx.steps.length).toBeGreaterThanOrEqual(1);
    expect(cx.steps.length).toBeLessThanOrEqual(2);
    // A step failed, each failed one with DuckDB's lock conflict. Not necessarily the last: the steps
    // of a parallel batch are listed as they finished (the owner's step may finish after the open).
    const failed = cx.steps.filter((s) => !s.ok);
    expect(failed.length).toBeGreaterThanOrEqual(1);
    for (const step of failed) {
      expect(step.error).toMatch(/Could not set lock on file .*Conflicting lock is held in .*\(PID \d+\)/);
    }
    expect(cx.error).toMatch(/^lock conflict: /);
    expect(cx.replay).toMatch(/^es1\./);
    expect(cx.replayCommand).toBe(`npx embecode-stress replay ${cx.replay}`);
  } finally {
    removeArtifact(summary);
  }
}

/** Deletes the artifact directory a failing run wrote. */
export function removeArtifact(summary: StressSummary): void {
  const artifact = summary.counterexample?.artifact;
  if (artifact !== undefined) rmSync(artifact, { recursive: true, force: true });
}

/** The shape of a trace, without timings and temp paths, to compare a run with its replay. */
export function traceShape(summary: StressSummary): string[] {
  // Sorted: steps of a parallel batch are listed as they finished, which is a race, and a report
  // step carries no start time to tell them from sequential ones.
  return (summary.counterexample?.steps ?? [])
    .map((s) => `${s.actor}.${s.op}(${JSON.stringify(s.args)}) ${s.ok ? 'ok' : 'error'}`)
    .sort();
}

/**
 * The smallest 1-minimal and race-or-logic passes, for smoke tests that check something else about
 * a failure: the default 3 and 5 replays cost seconds each time, and `npm test` has 3 minutes.
 * The defaults themselves are pinned by the readonly-direct seed tests.
 */
export const SMOKE_JUDGING_ENV = { STRESS_MINIMIZE_REPLAYS: '1', STRESS_CLASSIFY_REPLAYS: '2' } as const;

/** Runs `body` with `vars` set in this process's environment, restoring what was there after. */
export async function withEnv<T>(vars: Readonly<Record<string, string>>, body: () => Promise<T>): Promise<T> {
  const saved = Object.keys(vars).map((name) => [name, process.env[name]] as const);
  Object.assign(process.env, vars);
  try {
    return await body();
  } finally {
    for (const [name, value] of saved) {
      if (value === undefined) delete process.env[name];
      else process.env[name] = value;
    }
  }
}
