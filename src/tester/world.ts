import type { ReaderSide, Strategy, StrategyContext } from '../strategies/strategy.js';
import type { Checker } from './checkers/checker.js';
import type { IndexState } from './checkers/states.js';
import { IntruderActor, type IntruderHandle } from './clients/intruder-actor.js';
import { OwnerActor, type OwnerHandle } from './clients/owner-actor.js';
import { ReaderActor } from './clients/reader-actor.js';
import { Recorder } from './clients/recorder.js';
import { History, type StepEvent } from './history.js';
import { type FaultControl, Nemesis } from './nemesis.js';

export type { OwnerHandle } from './clients/owner-actor.js';
export type { FaultControl } from './nemesis.js';

/** Thrown by a step whose outcome breaks the run: fast-check shrinks towards it. */
export class StepFailure extends Error {
  constructor(
    readonly step: StepEvent,
    message: string,
    /** The failure's kind for the summary: `locked`, `hang`, `results-differ`, `intruder`, ... */
    readonly kind: string = step.errorKind ?? 'error',
    /** Longer evidence for trace.txt. */
    readonly details?: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

/** Everything one run's world is made of. */
export interface WorldParts {
  readonly strategy: Strategy;
  readonly context: Pick<StrategyContext, 'dbPath' | 'workDir'>;
  readonly owner: OwnerHandle;
  readonly readers: readonly ReaderSide[];
  readonly intruder?: IntruderHandle;
  readonly faults?: FaultControl;
  /** Builds the run's checker; `onMatch` records on a search which state explained it. */
  readonly checker: (onMatch: (search: StepEvent, state: IndexState) => void) => Checker;
  /** Longest any one step may take before it counts as a hang. */
  readonly stepDeadlineMs: number;
}

/**
 * The real system under test for one run, wired together: the clients (owner, readers,
 * intruder), the nemesis, the recorder that gives every step its outcome and deadline, and the
 * checker. Commands call into it; it never decides what to do next, only records and judges.
 */
export class StressWorld {
  readonly history = new History();
  readonly recorder: Recorder;
  readonly owner: OwnerActor;
  readonly readers: readonly ReaderActor[];
  readonly intruder: IntruderActor | undefined;
  private readonly nemesisOrUndefined: Nemesis | undefined;
  private readonly checker: Checker;
  private nextBatch = 1;

  constructor(private readonly parts: WorldParts) {
    this.recorder = new Recorder(this.history, parts.stepDeadlineMs);
    this.owner = new OwnerActor(parts.owner, this.recorder);
    this.readers = parts.readers.map((side, i) => new ReaderActor(`reader-${i + 1}`, side, this.recorder));
    this.intruder =
      parts.intruder === undefined ? undefined : new IntruderActor(parts.intruder, this.recorder);
    this.nemesisOrUndefined =
      parts.faults === undefined ? undefined : new Nemesis(this.history, parts.faults);
    this.checker = parts.checker((search, state) => {
      this.history.amend(search, { matched: state.prefix });
    });
  }

  get strategy(): Strategy {
    return this.parts.strategy;
  }

  get context(): Pick<StrategyContext, 'dbPath' | 'workDir'> {
    return this.parts.context;
  }

  get nemesis(): Nemesis {
    if (this.nemesisOrUndefined === undefined)
      throw new Error('this run has no faults enabled; a fault command was generated anyway');
    return this.nemesisOrUndefined;
  }

  reader(slot: number): ReaderActor {
    const reader = this.readers[slot % this.readers.length];
    if (reader === undefined)
      throw new Error('this run has no readers; a reader command was generated anyway');
    return reader;
  }

  /** A reader process the nemesis killed gets a new one before its next step. */
  async reviveIfDead(slot: number): Promise<void> {
    await this.nemesisOrUndefined?.reviveIfDead(this.reader(slot), slot % this.readers.length);
  }

  newBatch(): number {
    return this.nextBatch++;
  }

  /** Fails the run unless `event` happened. */
  requireOk(event: StepEvent): StepEvent {
    if (event.outcome === 'ok') return event;
    const kind = event.errorKind ?? 'error';
    const what = kind === 'locked' ? 'lock conflict' : kind;
    throw new StepFailure(event, `${what}: ${event.actor}.${event.op} failed: ${event.error}`, kind);
  }

  /**
   * Fails the run unless `event` happened or, for an owner mutation the nemesis cut short, may
   * have: a write whose owner died is judged by the checker (it may or may not be visible).
   */
  requireOkOrKilled(event: StepEvent): StepEvent {
    if (event.outcome === 'info' && event.errorKind === 'died') return event;
    return this.requireOk(event);
  }

  /** Applies the checker to a settled step (searches after their batch settles). */
  check(event: StepEvent): Promise<void> {
    return checkStep(this.checker, this.history.steps, event);
  }
}

/** Fails `event` with the checker's violation, if it finds one in the history so far. */
export async function checkStep(
  checker: Checker,
  steps: readonly StepEvent[],
  event: StepEvent,
): Promise<void> {
  const violation = await checker.check(steps, event);
  if (violation !== undefined) {
    throw new StepFailure(
      event,
      `${violation.kind}: ${violation.message}`,
      violation.kind,
      violation.details,
    );
  }
}
