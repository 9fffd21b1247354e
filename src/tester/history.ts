/** Who did a step: the owner child, the reader, or the nemesis (faults the tester injects). */
export type Actor = 'owner' | 'reader' | 'nemesis';

/**
 * One recorded step. Times are milliseconds on the tester's own clock (performance.now() since
 * the run began), taken when the request left and when its answer arrived, so "acknowledged
 * before the search started" is a comparison of two numbers from one clock.
 */
export interface StepEvent {
  readonly index: number;
  readonly actor: Actor;
  readonly op: string;
  readonly args: Readonly<Record<string, unknown>>;
  readonly pid: number;
  readonly start: number;
  readonly end: number;
  readonly ok: boolean;
  readonly error?: string;
  /** Error class from duckdb-errors.ts (`lock-conflict`, ...), or `contract` for a checker verdict. */
  readonly errorKind?: string;
  /** For searches: the content tokens found in the results. */
  readonly seen?: readonly string[];
  /** Steps issued together by one parallel batch share its number. */
  readonly batch?: number;
  /** Lock-conflict retries spent before this outcome. */
  readonly retries?: number;
}

/** The steps of one run, in the order they finished (each carries its own start and end). */
export class History {
  private readonly events: StepEvent[] = [];
  private readonly origin = performance.now();

  now(): number {
    return performance.now() - this.origin;
  }

  record(event: Omit<StepEvent, 'index'>): StepEvent {
    const full = { ...event, index: this.events.length };
    this.events.push(full);
    return full;
  }

  get steps(): readonly StepEvent[] {
    return this.events;
  }
}
