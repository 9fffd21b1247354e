import type { FailureClass } from './failure-class.js';
import type { StepEvent } from './history.js';
import type { RunProfile } from './process-profile.js';
import { formatReach, type Reach } from './reach.js';

/** One line of a minimal trace, as the `--json` summary and the text report show it. */
export interface ReportStep {
  readonly actor: string;
  readonly op: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly ok: boolean;
  /** Present when the step may or may not have happened (its process died, its deadline passed). */
  readonly outcome?: 'info';
  readonly error?: string;
  readonly ms: number;
}

export interface Counterexample {
  readonly steps: readonly ReportStep[];
  /** Steps of the first failing run, before shrinking. */
  readonly originalLength: number;
  readonly shrinks: number;
  /**
   * What went wrong, in one word: `locked`, `hang`, `results-differ` (the oracle's answer
   * differs), `intruder` (an outsider got in), `contract`, or the error kind of a failed step.
   */
  readonly kind: string;
  readonly error: string;
  /** Evidence beyond the one line: result lists side by side, what each process was doing. */
  readonly details?: string;
  readonly replay: string;
  readonly replayCommand: string;
  /** The failure artifact directory (trace, histories, timeline, replay token). */
  readonly artifact?: string;
  /**
   * The temp directory the runs worked in: error messages name files in it, but it is removed
   * when the check ends, so the report says so rather than point at a path that is gone.
   */
  readonly removedDir?: string;
  /** What the 1-minimal pass could show: `1-minimal: removing any one step makes it pass 3/3`, or the undecided steps. */
  readonly minimality?: string;
  /** Race or logic, from replays of the final trace. */
  readonly failureClass?: FailureClass;
  /**
   * Wall time (ms) the 1-minimal pass and the race-or-logic replays took, part of the summary's
   * `elapsedMs`: what they add to the time a failure takes to report.
   */
  readonly judgedMs?: { readonly minimize: number; readonly classify: number };
  /** A swarm run: the command mix the failing run drew, on one line (`OwnerWritex3 ...`). */
  readonly mix?: string;
}

export interface StressSummary {
  readonly strategy: string;
  readonly status: 'passed' | 'failed' | 'error';
  /** Runs fast-check generated (for a failure: up to and including the first failing one). */
  readonly runs: number;
  /** A failure only: runs spent shrinking it (fast-check's and the 1-minimal pass), not in `runs`. */
  readonly shrinkRuns?: number;
  readonly seed: number;
  readonly elapsedMs: number;
  readonly counterexample?: Counterexample;
  /** True when the time limit stopped the run early; `runs` says how many completed. */
  readonly interrupted?: boolean;
  /** Runs with faults: how many SIGKILLs the nemesis dealt, over all runs (shrinking included). */
  readonly faultsInjected?: FaultCounts;
  /** Replays only: how many of the replays failed again. */
  readonly reproduced?: { readonly times: number; readonly of: number };
  /** Replays only: the counterexample did not fail in any replay (a race, or fixed). */
  readonly flaky?: boolean;
  /** For `status: 'error'`: what went wrong with the set-up; for an unreached goal, which. */
  readonly reason?: string;
  /** What the runs exercised (see reach.ts). */
  readonly reach?: Reach;
  /** Goals a whole suite passed without ever reaching: such a pass proves nothing, so it fails. */
  readonly unreached?: readonly string[];
  /** STRESS_PROFILE=1, a passing check: where each worker's time went (process-profile.ts). */
  readonly profiles?: readonly RunProfile[];
  /** Watched goals (reach.ts WATCHED_GOALS) a passing suite never reached: said, not failed. */
  readonly missedWatched?: readonly string[];
  /** The signal (Ctrl-C is SIGINT) that stopped the check before its runs were done. */
  readonly signal?: NodeJS.Signals;
  /** An interrupted check: the runs it was asked for (under its seed, from run 1). */
  readonly requestedRuns?: number;
  /** An interrupted check resumed with `--from-run`: runs before this invocation's first. */
  readonly skippedRuns?: number;
  /** An interrupted check: the command that runs it again from the start. */
  readonly repeatCommand?: string;
  /** An interrupted check: the command that runs only the runs it did not get to. */
  readonly resumeCommand?: string;
}

export interface FaultCounts {
  readonly ownerKills: number;
  /** Of those, kills in the middle of a write. */
  readonly ownerKillsDuringWrite: number;
  readonly readerKills: number;
}

/** Adds the nemesis steps of one run's history to `counts`. */
export function countFaults(counts: FaultCounts, steps: readonly StepEvent[]): FaultCounts {
  let { ownerKills, ownerKillsDuringWrite, readerKills } = counts;
  for (const step of steps) {
    if (step.actor !== 'nemesis') continue;
    if (step.op === 'kill-owner') {
      ownerKills++;
      if (step.args.duringWrite === true) ownerKillsDuringWrite++;
    } else if (step.op === 'kill-reader') {
      readerKills++;
    } else if (step.op === 'sigkill' || step.op === 'sigterm') {
      // The serve target: a serve stopped either way, the owner or a reader; "mid-write" is an
      // owner stopped while a catch-up (the owner's indexing) was in flight.
      if (step.args.owner !== true) readerKills++;
      else {
        ownerKills++;
        if (steps.some((r) => r.op === 'catch-up' && r.start < step.start && step.start < r.end))
          ownerKillsDuringWrite++;
      }
    }
  }
  return { ownerKills, ownerKillsDuringWrite, readerKills };
}

export const NO_FAULTS: FaultCounts = { ownerKills: 0, ownerKillsDuringWrite: 0, readerKills: 0 };

export function toReportStep(event: StepEvent): ReportStep {
  return {
    actor: event.actor,
    op: event.op,
    args: event.args,
    ok: event.ok,
    ...(event.outcome === 'info' ? { outcome: 'info' as const } : {}),
    ...(event.error === undefined ? {} : { error: event.error }),
    ms: Math.round((event.end - event.start) * 100) / 100,
  };
}

function formatArgs(args: Readonly<Record<string, unknown>>): string {
  return Object.entries(args)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

/** Runs of at least this many alike steps in a row (a streamed search) print as one line. */
const FOLD_AT = 3;

/** What a trace line shows of a step, but its duration: steps with the same one read alike. */
function stepLine(step: ReportStep): string {
  const outcome = step.ok ? 'ok   ' : step.outcome === 'info' ? 'INFO ' : 'ERROR';
  const call = `${step.actor}.${step.op}(${formatArgs(step.args)})`;
  return `${call.padEnd(44)} ${outcome}`;
}

/**
 * The minimal trace as numbered lines a person reads in seconds. Alike steps in a row (a reader
 * streaming one search) fold into one line, `8-13. ... x6`, numbered as the steps they stand for.
 */
export function formatSteps(steps: readonly ReportStep[]): string {
  const width = String(steps.length).length;
  const lines: string[] = [];
  for (let i = 0; i < steps.length; ) {
    const step = steps[i] as ReportStep;
    const line = stepLine(step);
    const errorText = step.error === undefined ? undefined : firstLine(step.error);
    let j = i + 1;
    while (j < steps.length) {
      const next = steps[j] as ReportStep;
      const nextError = next.error === undefined ? undefined : firstLine(next.error);
      if (stepLine(next) !== line || nextError !== errorText) break;
      j++;
    }
    const count = j - i;
    const folded = count >= FOLD_AT;
    const end = folded ? j : i + 1;
    const numbers = folded ? `${i + 1}-${end}` : String(i + 1);
    const group = steps.slice(i, end);
    const ms = group.map((s) => s.ms);
    const duration = folded
      ? `${Math.min(...ms).toFixed(1)}-${Math.max(...ms).toFixed(1)} ms x${count}`
      : `${step.ms.toFixed(1).padStart(7)} ms`;
    const error = errorText === undefined ? '' : `\n${' '.repeat(width + 4)}${errorText}`;
    lines.push(`  ${numbers.padStart(width)}. ${line} ${duration}${error}`);
    i = end;
  }
  return lines.join('\n');
}

/**
 * The 1-minimal claim, the race-or-logic class and a swarm run's command mix, one line each,
 * when the run made them.
 */
export function judgement(cx: Counterexample): string[] {
  return [
    ...(cx.minimality === undefined ? [] : [cx.minimality]),
    ...(cx.failureClass === undefined ? [] : [`replays of the minimal trace: ${cx.failureClass.text}`]),
    ...(cx.mix === undefined ? [] : [`command mix of the failing run (swarm): ${cx.mix}`]),
  ];
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

/** `1 step`, `2 steps`. */
export function plural(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/**
 * The failure's one line, without repeating a step's error printed just above it in the trace:
 * `lock conflict: reader-1.open failed: see step 2 above`.
 */
export function errorLine(cx: Pick<Counterexample, 'error' | 'steps'>): string {
  const line = firstLine(cx.error);
  for (let i = cx.steps.length - 1; i >= 0; i--) {
    const stepError = cx.steps[i]?.error;
    if (stepError === undefined) continue;
    const repeated = firstLine(stepError);
    if (repeated.length > 0 && line.includes(repeated)) {
      return line.replace(repeated, `see step ${i + 1} above`);
    }
  }
  return line;
}

/** Says that the temp directory the messages name is gone, when they name it. */
function removedNote(cx: Counterexample): string | undefined {
  const dir = cx.removedDir;
  if (dir === undefined) return undefined;
  const named = [cx.error, cx.details ?? '', ...cx.steps.map((s) => s.error ?? '')].some((text) =>
    text.includes(dir),
  );
  if (!named) return undefined;
  const kept = cx.artifact === undefined ? '' : '; the artifact keeps the histories';
  return `note: ${dir}, named above, was the runs' temp directory and was removed when the check ended${kept}`;
}

/** The human report of a summary: quiet on success, the whole story on failure. */
export function formatSummary(summary: StressSummary): string {
  if (summary.signal !== undefined) return formatInterrupted(summary);
  return formatFinished(summary);
}

/** After Ctrl-C: how far the check got, what it reached, and how to run it again or go on. */
function formatInterrupted(summary: StressSummary): string {
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  const done = (summary.skippedRuns ?? 0) + summary.runs;
  const of = summary.requestedRuns === undefined ? '' : ` of ${summary.requestedRuns}`;
  const skipped = summary.skippedRuns === undefined ? '' : ` (runs 1 to ${summary.skippedRuns} skipped)`;
  const where = `${summary.strategy}: interrupted by ${summary.signal}`;
  const lines: string[] = [];
  const cx = summary.counterexample;
  if (summary.status === 'failed' && cx !== undefined) {
    lines.push(
      `embecode-stress: ${where} while shrinking a failure found after ${plural(done, 'run')}${of}${skipped} (seed ${summary.seed}, ${seconds} s)`,
      `smallest trace so far: ${plural(cx.steps.length, 'step')} (after ${plural(cx.shrinks, 'shrink run')})`,
      formatSteps(cx.steps),
      `error: ${errorLine(cx)}`,
      `replay with: ${cx.replayCommand}`,
    );
  } else {
    lines.push(
      `embecode-stress: ${where} after ${plural(done, 'run')}${of}${skipped}; the contract held in those (seed ${summary.seed}, ${seconds} s)`,
    );
  }
  if (summary.reach !== undefined) lines.push('what the runs reached:', formatReach(summary.reach));
  if (summary.repeatCommand !== undefined) lines.push(`repeat with: ${summary.repeatCommand}`);
  if (summary.resumeCommand !== undefined) lines.push(`resume with: ${summary.resumeCommand}`);
  return lines.join('\n');
}

function formatFinished(summary: StressSummary): string {
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  if (summary.status === 'error')
    return `embecode-stress: ${summary.strategy}: error: ${summary.reason ?? 'unknown'}`;
  const interrupted = summary.interrupted ? ' (time limit reached)' : '';
  if (summary.status === 'passed' && summary.reproduced !== undefined) {
    return `embecode-stress: ${summary.strategy}: replay reproduced 0/${summary.reproduced.of}: the failure is flaky or fixed (seed ${summary.seed}, ${seconds} s)`;
  }
  if (summary.status === 'failed' && summary.unreached !== undefined) {
    return [
      `embecode-stress: ${summary.strategy}: FAILED: the contract held in ${summary.runs} runs, but they never reached: ${summary.unreached.join('; ')} (seed ${summary.seed}, ${seconds} s)`,
      ...(summary.reach === undefined ? [] : ['what the runs reached:', formatReach(summary.reach)]),
    ].join('\n');
  }
  if (summary.status === 'passed') {
    const f = summary.faultsInjected;
    const faults =
      f === undefined
        ? ''
        : `, through ${f.ownerKills} owner kills (${f.ownerKillsDuringWrite} mid-write) and ${f.readerKills} reader kills`;
    const line = `embecode-stress: ${summary.strategy}: contract held in ${summary.runs} runs${faults} (seed ${summary.seed}, ${seconds} s)${interrupted}`;
    const watched =
      summary.missedWatched === undefined || summary.missedWatched.length === 0
        ? ''
        : `\nnot reached (watched, not a failing goal): ${summary.missedWatched.join('; ')}`;
    return summary.reach === undefined
      ? `${line}${watched}`
      : `${line}\nwhat the runs reached:\n${formatReach(summary.reach)}${watched}`;
  }
  const cx = summary.counterexample;
  if (cx === undefined) return `embecode-stress: ${summary.strategy}: failed (seed ${summary.seed})`;
  const shrinking =
    summary.shrinkRuns === undefined || summary.shrinkRuns === 0
      ? ''
      : `; ${plural(summary.shrinkRuns, 'shrink run')} after that`;
  const lines = [
    summary.reproduced === undefined
      ? `embecode-stress: ${summary.strategy}: FAILED after ${plural(summary.runs, 'run')} (seed ${summary.seed}, ${seconds} s${shrinking})`
      : `embecode-stress: ${summary.strategy}: replayed counterexample FAILED (seed ${summary.seed}, ${seconds} s)`,
    summary.reproduced === undefined
      ? cx.shrinks === 0 && cx.originalLength === cx.steps.length
        ? `minimal trace: ${plural(cx.steps.length, 'step')} (the failing run as it was: no shorter one failed)`
        : `minimal trace: ${plural(cx.steps.length, 'step')} (shrunk from ${cx.originalLength} in ${plural(cx.shrinks, 'shrink')})`
      : `trace: ${plural(cx.steps.length, 'step')}, as the replay token recorded them (a replay does not shrink)`,
    formatSteps(cx.steps),
    `error: ${errorLine(cx)}`,
    ...judgement(cx),
  ];
  if (cx.details !== undefined) lines.push(cx.details);
  if (summary.reproduced !== undefined) {
    const { times, of } = summary.reproduced;
    lines.push(
      `reproduced ${times}/${of}${times < of ? ' (real processes race: not every replay fails)' : ''}`,
    );
  }
  const removed = removedNote(cx);
  if (removed !== undefined) lines.push(removed);
  if (cx.artifact !== undefined) lines.push(`artifact: ${cx.artifact} (open timeline.html in a browser)`);
  lines.push(`replay with: ${cx.replayCommand}`);
  return lines.join('\n');
}
