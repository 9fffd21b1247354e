import type { StressCommand } from './commands/serialize.js';
import type { StepEvent } from './history.js';
import type { RunActor } from './timeline.js';
import { StepFailure } from './world.js';

/** One failing run as the report needs it. */
export interface FailedRun<C = StressCommand> {
  readonly steps: readonly StepEvent[];
  readonly stderr: string;
  /** The step that failed the run, when the failure names one. */
  readonly failingStep?: number;
  /** What kind of failure: `locked`, `hang`, `results-differ`, `intruder`, ... */
  readonly kind: string;
  /** The failure's one line. */
  readonly message: string;
  /** Longer evidence (result lists side by side; what each process was doing). */
  readonly details?: string;
  /** The commands that ran, in order: what the minimizer and a command replay start from. */
  readonly commands?: readonly C[];
  /** Every process of the run when it ended, for the timeline (steps alone miss idle ones). */
  readonly actors?: readonly RunActor[];
}

/**
 * The first and the last failing run of one property check: fast-check reports the last
 * failure it saw while shrinking, which is the minimal one; the first is the original.
 */
export class FailureLog<C = StressCommand> {
  original: FailedRun<C> | undefined;
  minimal: FailedRun<C> | undefined;
  /** Runs since the first failure (each one a shrink attempt). */
  shrinkAttempts = 0;
  /** When the first failure was recorded (performance.now()). */
  failedAt: number | undefined;

  get failed(): boolean {
    return this.original !== undefined;
  }

  record(
    steps: readonly StepEvent[],
    stderr: string,
    cause: unknown,
    extraDetails?: string,
    commands?: readonly C[],
    actors?: readonly RunActor[],
  ): void {
    const step = cause instanceof StepFailure ? cause.step.index : undefined;
    const kind = cause instanceof StepFailure ? cause.kind : 'error';
    const details = [cause instanceof StepFailure ? cause.details : undefined, extraDetails]
      .filter((d): d is string => d !== undefined)
      .join('\n');
    this.minimal = {
      steps,
      stderr,
      kind,
      message: cause instanceof Error ? cause.message : String(cause),
      ...(step === undefined ? {} : { failingStep: step }),
      ...(details === '' ? {} : { details }),
      ...(commands === undefined ? {} : { commands }),
      ...(actors === undefined ? {} : { actors }),
    };
    this.original ??= this.minimal;
    this.failedAt ??= performance.now();
  }
}

/**
 * fast-check prints a failing command sequence as `cmd1,cmd2 /*replayPath="..."*\/`: the quoted
 * JSON string is the path through the generated commands, which a replay needs besides the seed
 * and the run path. Pinned by a test against fast-check's real output.
 */
const REPLAY_PATH = /\/\*replayPath=("(?:[^"\\]|\\.)*")\*\//;

export function replayPathOf(commands: string): string {
  const json = REPLAY_PATH.exec(commands)?.[1];
  return json === undefined ? '' : (JSON.parse(json) as string);
}
