import type { Mutant } from './mutant.js';

/**
 * What one stress run on one seed said about a mutant. Only a counterexample counts as caught: a
 * hang is the tester failing to report, and an error is it failing to run, neither of which a
 * user could act on.
 */
export type Verdict = 'caught' | 'survived' | 'hang' | 'error';

export interface SeedResult {
  readonly seed: number;
  readonly verdict: Verdict;
  /** Steps in the reported (shrunk) counterexample, when caught. */
  readonly traceLength?: number;
  /** Whether the report claims the trace 1-minimal (every one-step removal replayed and passed). */
  readonly oneMinimal?: boolean;
  /** Race or logic, from the report's replays of the final trace: `logic` or `race 2/5`. */
  readonly failureClass?: string;
  /** Of `seconds`, the time the 1-minimal pass and the race-or-logic replays took. */
  readonly judgedSeconds?: number;
  /** Generated runs up to and including the first failing one, when caught (no shrink runs). */
  readonly runs?: number;
  /** Wall time from starting the run to its report (or to the kill, for a hang). */
  readonly seconds: number;
  /** Why it is an error or a hang, on one line. */
  readonly detail?: string;
  /** When caught: the counterexample's error, on one line (what a failing baseline reports). */
  readonly error?: string;
}

export interface MutantResult {
  readonly mutant: Mutant;
  /** `ran`: every seed has a result; otherwise `reason` says why none was run. */
  readonly status: 'ran' | 'does-not-apply' | 'build-failed';
  readonly reason?: string;
  readonly seeds: readonly SeedResult[];
}

export interface FinishedRun {
  readonly seed: number;
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
  readonly seconds: number;
}

interface Report {
  readonly status?: unknown;
  readonly reason?: unknown;
  readonly runs?: unknown;
  readonly counterexample?: {
    readonly steps?: unknown;
    readonly error?: unknown;
    readonly minimality?: unknown;
    readonly failureClass?: { readonly class?: unknown; readonly failed?: unknown; readonly of?: unknown };
    readonly judgedMs?: { readonly minimize?: unknown; readonly classify?: unknown };
  };
}

/** The one JSON object `--json` prints; undefined when stdout is not that. */
function parseReport(stdout: string): Report | undefined {
  const line = stdout.trim().split('\n').at(-1) ?? '';
  try {
    const parsed: unknown = JSON.parse(line);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Report) : undefined;
  } catch {
    return undefined;
  }
}

function judgedSeconds(judged: { readonly minimize?: unknown; readonly classify?: unknown } | undefined): {
  judgedSeconds?: number;
} {
  const { minimize, classify } = judged ?? {};
  if (typeof minimize !== 'number' || typeof classify !== 'number') return {};
  return { judgedSeconds: (minimize + classify) / 1000 };
}

/** `logic`, or `race k/N` for a trace that failed only k of its N replays. */
function failureClassCell(
  reported: { readonly class?: unknown; readonly failed?: unknown; readonly of?: unknown } | undefined,
): string | undefined {
  if (reported?.class === 'logic') return 'logic';
  if (reported?.class === 'race') return `race ${String(reported.failed)}/${String(reported.of)}`;
  return undefined;
}

function oneLine(text: string, max = 160): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}

/**
 * Judges a finished `embecode-stress run --json`: caught means exit 1, status "failed" and a
 * counterexample. A suite failed only for goals it never reached found no bug: an error.
 */
export function classifyRun(run: FinishedRun): SeedResult {
  const base = { seed: run.seed, seconds: run.seconds };
  if (run.timedOut)
    return { ...base, verdict: 'hang', detail: `no report within ${run.seconds.toFixed(0)} s` };
  const report = parseReport(run.stdout);
  if (run.exitCode === 1 && report?.status === 'failed' && report.counterexample !== undefined) {
    const cx = report.counterexample;
    const minimality = cx?.minimality;
    const klass = failureClassCell(cx?.failureClass);
    return {
      ...base,
      verdict: 'caught',
      ...(Array.isArray(cx?.steps) ? { traceLength: cx.steps.length } : {}),
      ...(typeof minimality === 'string' ? { oneMinimal: minimality.startsWith('1-minimal') } : {}),
      ...(klass === undefined ? {} : { failureClass: klass }),
      ...judgedSeconds(cx?.judgedMs),
      ...(typeof report.runs === 'number' ? { runs: report.runs } : {}),
      ...(typeof cx?.error === 'string' ? { error: oneLine(cx.error) } : {}),
    };
  }
  if (run.exitCode === 0 && report?.status === 'passed') return { ...base, verdict: 'survived' };
  const why =
    typeof report?.reason === 'string'
      ? report.reason
      : oneLine(run.stderr) || oneLine(run.stdout) || 'no output';
  return {
    ...base,
    verdict: 'error',
    detail: `exit ${run.exitCode ?? 'by signal'}, status ${String(report?.status ?? 'none')}: ${oneLine(why)}`,
  };
}

export function caughtEverywhere(result: MutantResult): boolean {
  return (
    result.status === 'ran' && result.seeds.length > 0 && result.seeds.every((s) => s.verdict === 'caught')
  );
}
