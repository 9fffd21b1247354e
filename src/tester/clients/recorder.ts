import { EmbecodeError, errorKindOf, rootMessage } from '../../errors.js';
import type { Actor, History, NewStep, Outcome, StepEvent } from '../history.js';

/** Error kinds after which a step may or may not have happened. */
const UNDETERMINED = new Set(['hang', 'died']);

/** How a failed step is recorded: `info` when it may have happened, `fail` when it did not. */
export function outcomeOf(errorKind: string): Outcome {
  return UNDETERMINED.has(errorKind) ? 'info' : 'fail';
}

export interface StepCall<T> {
  readonly actor: Actor;
  readonly pid: number;
  readonly op: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly batch?: number;
  /** Fields the event gets from the step's result (a search's results). */
  readonly describe?: (value: T) => Partial<NewStep>;
  /** Fields the event gets whatever the outcome (a write's files). */
  readonly extra?: Partial<NewStep>;
}

export interface Recorded<T> {
  readonly event: StepEvent;
  readonly value?: T;
}

/**
 * Records every step an actor takes, with its outcome, and gives each step a deadline: a step
 * past it is recorded as `info` with kind `hang` (it may still finish on the other side), so no
 * step is ever waited on forever. The recorder never retries: a strategy that must retry lock
 * conflicts does so itself, and whatever reaches the tester is its outcome.
 */
export class Recorder {
  constructor(
    readonly history: History,
    readonly deadlineMs: number,
  ) {}

  async step<T>(call: StepCall<T>, action: () => Promise<T>): Promise<Recorded<T>> {
    const start = this.history.now();
    const base = {
      actor: call.actor,
      op: call.op,
      args: call.args,
      pid: call.pid,
      start,
      ...(call.batch === undefined ? {} : { batch: call.batch }),
      ...call.extra,
    };
    try {
      const value = await this.withDeadline(call, action());
      const event = this.history.record({
        ...base,
        end: this.history.now(),
        outcome: 'ok',
        ...call.describe?.(value),
      });
      return { event, value };
    } catch (error) {
      const kind = errorKindOf(error);
      const event = this.history.record({
        ...base,
        end: this.history.now(),
        outcome: outcomeOf(kind),
        error: rootMessage(error),
        errorKind: kind,
      });
      return { event };
    }
  }

  private async withDeadline<T>(call: StepCall<T>, work: Promise<T>): Promise<T> {
    // A plain timer, cleared when the work settles: aborting a signal-driven sleep instead made an
    // AbortError (a DOMException with its stack) for every step that finished in time.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new EmbecodeError(
              'hang',
              `${call.actor}.${call.op} (pid ${call.pid}) did not finish within ${this.deadlineMs} ms`,
            ),
          ),
        this.deadlineMs,
      );
    });
    try {
      return await Promise.race([work, deadline]);
    } finally {
      clearTimeout(timer);
    }
  }
}
