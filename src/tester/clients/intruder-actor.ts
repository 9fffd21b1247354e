import type { OutsiderAccess, OutsiderRule, OutsiderVerdict } from '../../strategies/strategy.js';
import type { StepEvent } from '../history.js';
import type { Recorder } from './recorder.js';

/** What the intruder child says of one attempt. */
export interface ProbeOutcome {
  readonly gotIn: boolean;
  /** DuckDB's words when it was kept out, or `missing`. */
  readonly error?: string;
  /** What it did while in (tables read, rows written, CHECKPOINT). */
  readonly did?: readonly string[];
}

/** The intruder process: raw DuckDB, no embecode code (helpers/stress-intruder.ts). */
export interface IntruderHandle {
  readonly pid: number;
  probe(args: {
    path: string;
    access: OutsiderAccess;
    prove: boolean;
    holdMs?: number;
  }): Promise<ProbeOutcome>;
}

/**
 * The intruder client: tries to open one of the strategy's files the way an outsider would, and
 * records what the strategy promised at that moment beside what happened, for the exclusivity
 * checker. Where it must be kept out it also tries to write, so a report says what an intruder
 * that got in could do; where it may get in it only reads, so it changes nothing a search sees.
 */
export class IntruderActor {
  constructor(
    private readonly handle: IntruderHandle,
    private readonly recorder: Recorder,
  ) {}

  get pid(): number {
    return this.handle.pid;
  }

  async probe(
    rule: OutsiderRule,
    path: string | undefined,
    access: OutsiderAccess,
    owner: { readonly holds: boolean },
    batch?: number,
    /** How long it keeps the file open once in (ms): others opening meanwhile meet its lock. */
    holdMs = 0,
  ): Promise<StepEvent> {
    const promised: OutsiderVerdict = path === undefined ? 'either' : rule.verdict(access, owner);
    const args = {
      target: rule.target,
      access,
      ownerHolds: owner.holds,
      promised,
      ...(holdMs > 0 ? { holdMs } : {}),
    };
    const { event } = await this.recorder.step(
      {
        actor: 'intruder',
        pid: this.handle.pid,
        op: 'probe',
        args,
        ...(batch === undefined ? {} : { batch }),
        extra: { detail: { path: path ?? null } },
        describe: (outcome: ProbeOutcome) => ({
          detail: { path: path ?? null, ...outcome },
        }),
      },
      async () =>
        path === undefined
          ? ({ gotIn: false, error: 'missing' } satisfies ProbeOutcome)
          : this.handle.probe({
              path,
              access,
              prove: promised === 'refused',
              ...(holdMs > 0 ? { holdMs } : {}),
            }),
    );
    return event;
  }
}
