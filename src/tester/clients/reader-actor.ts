import type { SearchMode, SearchResult } from '../../index/types.js';
import type { ReaderSide } from '../../strategies/strategy.js';
import type { Actor, ResultRow, StepEvent } from '../history.js';
import { tokensIn } from '../tokens.js';
import type { Recorder } from './recorder.js';

/** One generated search, as the trace shows it and the oracle repeats it. */
export interface SearchRequest {
  readonly mode: SearchMode;
  readonly query: string;
  readonly topK: number;
  readonly pathPrefix?: string;
}

/** A reader in another process says which; one in this process has none. */
function pidOf(reader: ReaderSide): number {
  const pid = (reader as { pid?: unknown }).pid;
  return typeof pid === 'number' ? pid : process.pid;
}

/** Lock waits a reader in another process reported since its last step (see RemoteReader). */
function lockWaitsDetail(reader: ReaderSide): { detail?: { lockWaits: unknown } } {
  const claim = (reader as { claimLockWaits?: () => unknown }).claimLockWaits;
  const waits = typeof claim === 'function' ? claim.call(reader) : undefined;
  return waits === undefined ? {} : { detail: { lockWaits: waits } };
}

function rows(results: readonly SearchResult[]): ResultRow[] {
  return results.map((r) => ({ path: r.path, startLine: r.startLine, endLine: r.endLine, score: r.score }));
}

/**
 * One reader client (`reader-1`, `reader-2`, ...): the strategy's reader side, in a child of its
 * own in stress runs, so readers race each other and the owner across processes.
 */
export class ReaderActor {
  constructor(
    readonly actor: Actor,
    private side: ReaderSide,
    private readonly recorder: Recorder,
  ) {}

  get pid(): number {
    return pidOf(this.side);
  }

  get reader(): ReaderSide {
    return this.side;
  }

  /** A restarted reader process takes over this actor's name. */
  replace(side: ReaderSide): void {
    this.side = side;
  }

  async open(batch?: number): Promise<StepEvent> {
    return this.simple('open', () => this.side.open(), batch);
  }

  async close(batch?: number): Promise<StepEvent> {
    return this.simple('close', () => this.side.close(), batch);
  }

  async search(request: SearchRequest, batch?: number): Promise<StepEvent> {
    const side = this.side;
    const { event } = await this.recorder.step(
      {
        actor: this.actor,
        pid: pidOf(side),
        op: 'search',
        args: { ...request },
        ...(batch === undefined ? {} : { batch }),
        describe: (results: SearchResult[]) => ({
          ...lockWaitsDetail(side),
          results: rows(results),
          seen: [...new Set(results.flatMap((r) => tokensIn(r.preview)))],
        }),
      },
      () =>
        side.search(request.query, {
          mode: request.mode,
          topK: request.topK,
          ...(request.pathPrefix === undefined ? {} : { pathPrefix: request.pathPrefix }),
        }),
    );
    return event;
  }

  private async simple(op: string, action: () => Promise<void>, batch?: number): Promise<StepEvent> {
    const { event } = await this.recorder.step(
      {
        actor: this.actor,
        pid: this.pid,
        op,
        args: {},
        ...(batch === undefined ? {} : { batch }),
        describe: () => lockWaitsDetail(this.side),
      },
      action,
    );
    return event;
  }
}
