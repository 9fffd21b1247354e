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
    const last = cx.steps.at(-1);
    expect(last?.ok).toBe(false);
    expect(last?.error).toMatch(/Could not set lock on file .*Conflicting lock is held in .*\(PID \d+\)/);
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
  return (summary.counterexample?.steps ?? []).map(
    (s) => `${s.actor}.${s.op}(${JSON.stringify(s.args)}) ${s.ok ? 'ok' : 'error'}`,
  );
}
