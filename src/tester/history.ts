import type { ErrorKind } from '../error-kind.js';
/**
 * Who did a step: the owner child, one of the reader children (`reader-1`, `reader-2`, ...), the
 * intruder (a process that is not embecode), or the nemesis (faults the tester injects).
 */
export type Actor = 'owner' | `reader-${number}` | 'intruder' | 'nemesis' | `serve-${number}` | 'project';

/**
 * A step's outcome, as Jepsen records it:
 * - `ok`: it happened, and the reply says so;
 * - `fail`: it did not happen (an error reply: the owner rolled back, the reader found nothing);
 * - `info`: it may or may not have happened (the process died, or the deadline passed first).
 * The checker reads this, never an error string.
 */
export type Outcome = 'ok' | 'fail' | 'info';

/** One ranked result as a search returned it, without its preview (the oracle compares these). */
export interface ResultRow {
  readonly path: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly score: number;
}

/** A file an owner write sent, whole, so a checker can rebuild the state it leads to. */
export interface WrittenFile {
  readonly path: string;
  readonly content: string;
}

/**
 * One recorded step. Times are milliseconds on the tester's own clock (performance.now() since
 * the run began), taken when the request left and when its answer arrived, so "acknowledged
 * before the search started" is a comparison of two numbers from one clock.
 */
export interface StepEvent {
  readonly index: number;
  readonly actor: Actor;
  readonly op: string;
  /** What a trace line shows: small, readable arguments. */
  readonly args: Readonly<Record<string, unknown>>;
  readonly pid: number;
  readonly start: number;
  readonly end: number;
  readonly outcome: Outcome;
  /** `outcome === 'ok'`, kept for readers of the trace format. */
  readonly ok: boolean;
  readonly error?: string;
  /** Why the step failed or may not have happened, in the shared vocabulary (error-kind.ts). */
  readonly errorKind?: ErrorKind;
  /** Owner writes: the files sent, whole (not shown in traces; the oracle rebuilds states from them). */
  readonly files?: readonly WrittenFile[];
  /** Searches: the result list, best first. */
  readonly results?: readonly ResultRow[];
  /** Searches: the content tokens found in the results' previews. */
  readonly seen?: readonly string[];
  /** Searches: which prefix of the owner's mutations the checker found explains the results. */
  readonly matched?: number;
  /** Intruder probes and other steps that report what they did. */
  readonly detail?: Readonly<Record<string, unknown>>;
  /** Steps issued together by one parallel batch share its number. */
  readonly batch?: number;
}

export type NewStep = Omit<StepEvent, 'index' | 'ok'>;

/** The steps of one run, in the order they finished (each carries its own start and end). */
export class History {
  private readonly events: StepEvent[] = [];
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  record(event: NewStep): StepEvent {
    const full: StepEvent = { ...event, ok: event.outcome === 'ok', index: this.events.length };
    this.events.push(full);
    return full;
  }

  /** Replaces a recorded step with a judged copy (a search's matched prefix). */
  amend(event: StepEvent, change: Partial<Pick<StepEvent, 'matched'>>): StepEvent {
    const amended = { ...event, ...change };
    this.events[event.index] = amended;
    return amended;
  }

  get steps(): readonly StepEvent[] {
    return this.events;
  }
}
