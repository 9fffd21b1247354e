import { chunkLabel, type RankedChunk } from './ranking.js';

/** Scores as the tables and reasons show them: enough digits to see a tolerance-sized difference. */
export function formatScore(score: number): string {
  return Number.isInteger(score) ? String(score) : score.toPrecision(10).replace(/0+$/, '');
}

/** `path:start-end (score)`, as a reason line names a result. */
export function describeHit(hit: RankedChunk): string {
  return `${chunkLabel(hit)} (score ${formatScore(hit.score)})`;
}

/**
 * The expected and the actual list side by side, one line a rank, `rank  path:start-end  score`
 * for each, a `*` in front of the ranks where the two name different chunks.
 */
export function sideBySide(expected: readonly RankedChunk[], actual: readonly RankedChunk[]): string[] {
  const cell = (hit: RankedChunk | undefined) =>
    hit === undefined ? '-' : `${chunkLabel(hit)}  ${formatScore(hit.score)}`;
  const rows = Math.max(expected.length, actual.length);
  const left = Array.from({ length: rows }, (_, i) => cell(expected[i]));
  const width = Math.max('expected'.length, ...left.map((s) => s.length));
  const lines = [`  rank  ${'expected'.padEnd(width)}  | actual`];
  for (let i = 0; i < rows; i++) {
    const e = expected[i];
    const a = actual[i];
    const same = e !== undefined && a !== undefined && chunkLabel(e) === chunkLabel(a);
    lines.push(
      `${same ? ' ' : '*'} ${String(i + 1).padStart(4)}  ${(left[i] as string).padEnd(width)}  | ${cell(a)}`,
    );
  }
  return lines;
}
