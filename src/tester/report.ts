import type { StepEvent } from './history.js';

/** One line of a minimal trace, as the `--json` summary and the text report show it. */
export interface ReportStep {
  readonly actor: string;
  readonly op: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly ok: boolean;
  readonly error?: string;
  readonly ms: number;
}

export interface Counterexample {
  readonly steps: readonly ReportStep[];
  /** Steps of the first failing run, before shrinking. */
  readonly originalLength: number;
  readonly shrinks: number;
  readonly error: string;
  readonly replay: string;
  readonly replayCommand: string;
  /** Directory kept for inspection (the failing run's index file and trace). */
  readonly artifact?: string;
}

export interface StressSummary {
  readonly strategy: string;
  readonly status: 'passed' | 'failed' | 'error';
  readonly runs: number;
  readonly seed: number;
  readonly elapsedMs: number;
  readonly counterexample?: Counterexample;
  /** True when the time limit stopped the run early; `runs` says how many completed. */
  readonly interrupted?: boolean;
  /** Replays only: whether the replayed counterexample failed again. */
  readonly reproduced?: boolean;
  /** For `status: 'error'`: what went wrong with the set-up. */
  readonly reason?: string;
}

export function toReportStep(event: StepEvent): ReportStep {
  return {
    actor: event.actor,
    op: event.op,
    args: event.args,
    ok: event.ok,
    ...(event.error === undefined ? {} : { error: event.error }),
    ms: Math.round((event.end - event.start) * 100) / 100,
  };
}

function formatArgs(args: Readonly<Record<string, unknown>>): string {
  return Object.entries(args)
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
    .join(', ');
}

/** The minimal trace as numbered lines a person reads in seconds. */
export function formatSteps(steps: readonly ReportStep[]): string {
  const width = String(steps.length).length;
  return steps
    .map((step, i) => {
      const number = String(i + 1).padStart(width);
      const outcome = step.ok ? 'ok   ' : 'ERROR';
      const call = `${step.actor}.${step.op}(${formatArgs(step.args)})`;
      const error = step.error === undefined ? '' : `\n${' '.repeat(width + 4)}${firstLine(step.error)}`;
      return `  ${number}. ${call.padEnd(44)} ${outcome} ${step.ms.toFixed(1).padStart(7)} ms${error}`;
    })
    .join('\n');
}

function firstLine(text: string): string {
  return text.split('\n')[0] ?? '';
}

/** The human report of a summary: quiet on success, the whole story on failure. */
export function formatSummary(summary: StressSummary): string {
  const seconds = (summary.elapsedMs / 1000).toFixed(1);
  if (summary.status === 'error')
    return `embecode-stress: ${summary.strategy}: error: ${summary.reason ?? 'unknown'}`;
  const interrupted = summary.interrupted ? ' (time limit reached)' : '';
  if (summary.status === 'passed') {
    return `embecode-stress: ${summary.strategy}: contract held in ${summary.runs} runs (seed ${summary.seed}, ${seconds} s)${interrupted}`;
  }
  const cx = summary.counterexample;
  if (cx === undefined) return `embecode-stress: ${summary.strategy}: failed (seed ${summary.seed})`;
  const lines = [
    `embecode-stress: ${summary.strategy}: FAILED after ${summary.runs} runs (seed ${summary.seed}, ${seconds} s)`,
    `minimal trace: ${cx.steps.length} step${cx.steps.length === 1 ? '' : 's'} (shrunk from ${cx.originalLength} in ${cx.shrinks} shrinks)`,
    formatSteps(cx.steps),
    `error: ${firstLine(cx.error)}`,
  ];
  if (summary.reproduced !== undefined) {
    lines.push(
      summary.reproduced
        ? 'replay: reproduced'
        : 'replay: did NOT reproduce (real processes race; try again)',
    );
  }
  if (cx.artifact !== undefined) lines.push(`kept: ${cx.artifact}`);
  lines.push(`replay with: ${cx.replayCommand}`);
  return lines.join('\n');
}
