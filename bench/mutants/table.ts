import { caughtEverywhere, type MutantResult, type SeedResult } from './outcome.js';

/** One seed's trace cell: the counterexample's length, or why there is none. */
function traceCell(seed: SeedResult): string {
  switch (seed.verdict) {
    case 'caught':
      // A star: the report could not show the trace 1-minimal (its replay budget ran out).
      return `${seed.traceLength === undefined ? '?' : String(seed.traceLength)}${seed.oneMinimal === false ? '*' : ''}`;
    case 'survived':
      return '-';
    case 'hang':
      return 'hang';
    case 'error':
      return 'err';
  }
}

function row(result: MutantResult): string[] {
  const { mutant, seeds } = result;
  if (result.status !== 'ran') {
    return [mutant.id, mutant.strategy, '-', result.reason ?? result.status, ''];
  }
  const caught = seeds.filter((s) => s.verdict === 'caught').length;
  return [
    mutant.id,
    mutant.strategy,
    `${caught}/${seeds.length}`,
    seeds.map(traceCell).join(','),
    seeds.map((s) => (s.verdict === 'caught' ? (s.failureClass ?? '?') : '-')).join(','),
    seeds.map((s) => s.seconds.toFixed(1)).join(','),
  ];
}

const HEADER = ['id', 'strategy', 'caught', 'trace', 'class', 'seconds'];

/**
 * The results as an aligned text table, then the line the suite is judged by. A row that did not
 * run puts its reason where the traces go, and the trace column is not widened for it: reasons are
 * long, and padding every other row to fit one would push the numbers off the screen.
 */
export function formatTable(results: readonly MutantResult[]): string {
  const rows = results.map(row);
  const ran = rows.filter((_, i) => results[i]?.status === 'ran');
  const widths = HEADER.map((h, col) =>
    Math.max(h.length, ...(col < 3 ? rows : ran).map((r) => (r[col] ?? '').length)),
  );
  const line = (cells: readonly string[]) =>
    cells
      .map((cell, col) => (col === cells.length - 1 ? cell : cell.padEnd(widths[col] ?? 0)))
      .join('  ')
      .trimEnd();
  const lines = [line(HEADER), ...rows.map(line)];
  lines.push(summaryLine(results), traceLine(results));
  return lines.join('\n');
}

/**
 * What the caught traces look like as a whole: the median length a reader of a failure gets, how
 * many were shown 1-minimal (a star in the table marks the others), and how many were races.
 */
export function traceLine(results: readonly MutantResult[]): string {
  const caught = results.flatMap((r) => r.seeds.filter((s) => s.verdict === 'caught'));
  const lengths = caught.flatMap((s) => (s.traceLength === undefined ? [] : [s.traceLength]));
  if (lengths.length === 0) return 'traces: none caught';
  const minimal = caught.filter((s) => s.oneMinimal === true).length;
  const races = caught.filter((s) => s.failureClass?.startsWith('race')).length;
  const traces = `traces: median ${median(lengths)} steps (${Math.min(...lengths)}-${Math.max(...lengths)}) over ${lengths.length} caught; 1-minimal ${minimal} of ${caught.length}; races ${races}`;
  // Time to report against the same run without the two passes, which come after everything else.
  const ratios = caught.flatMap((s) =>
    s.judgedSeconds === undefined || s.seconds <= s.judgedSeconds
      ? []
      : [s.seconds / (s.seconds - s.judgedSeconds)],
  );
  if (ratios.length === 0) return traces;
  return `${traces}; time to report with the 1-minimal pass and race replays: median ${median(ratios).toFixed(2)}x (max ${Math.max(...ratios).toFixed(2)}x) of without them`;
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
}

export function summaryLine(results: readonly MutantResult[]): string {
  return `caught on every seed: ${results.filter(caughtEverywhere).length} of ${results.length}`;
}

/** Details a table row cannot hold: each error and hang, one line each. */
export function formatProblems(results: readonly MutantResult[]): string[] {
  return results.flatMap((r) =>
    r.seeds
      .filter((s) => s.detail !== undefined)
      .map((s) => `${r.mutant.id} seed ${s.seed}: ${s.verdict}: ${s.detail}`),
  );
}
