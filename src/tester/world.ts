import { EmbecodeError } from '../errors.js';
import { classifyDuckDBError, messageOf } from '../index/duckdb-errors.js';
import type { Embedder } from '../index/embedder.js';
import type { SearchMode } from '../index/types.js';
import type { OwnerOp } from '../owner/protocol.js';
import type { ReaderSide, Strategy } from '../strategies/strategy.js';
import { type CheckerState, checkSearch, newCheckerState } from './checker.js';
import { History, type StepEvent } from './history.js';
import { tokensIn } from './tokens.js';

/** The owner as the world sees it: the real child in a stress run, the service itself in the floor benchmark. */
export interface OwnerHandle {
  readonly pid: number;
  request(
    op: OwnerOp,
    args?: Record<string, unknown>,
  ): Promise<{ ok: boolean; error?: string; kind?: string }>;
}

/** Thrown by a step whose outcome breaks the run: fast-check shrinks towards it. */
export class StepFailure extends Error {
  constructor(
    readonly step: StepEvent,
    message: string,
  ) {
    super(message);
    this.name = 'StepFailure';
  }
}

const SEARCH_TOP_K = 10;

/**
 * The real system under test for one run: the owner child, this process's reader, the history
 * of what they did and the contract check after every step. Commands call into it; it never
 * decides what to do next, only records and judges.
 */
export class StressWorld {
  readonly history = new History();
  private readonly checker: CheckerState = newCheckerState();
  private nextBatch = 1;

  constructor(
    readonly strategy: Strategy,
    private readonly owner: OwnerHandle,
    readonly reader: ReaderSide,
    readonly embedder: Embedder,
  ) {}

  newBatch(): number {
    return this.nextBatch++;
  }

  /** Sends one owner request, records it, and fails the run on an error reply. */
  async ownerStep(
    op: OwnerOp,
    args: Record<string, unknown>,
    request?: Record<string, unknown>,
    batch?: number,
  ) {
    const event = await this.withRetry('owner', op, args, batch, async () => {
      const reply = await this.owner.request(op, request ?? args).catch((error: unknown) => ({
        ok: false,
        error: messageOf(error),
        kind: 'owner-died',
      }));
      if (!reply.ok) throw new KindedError(reply.error ?? 'unknown owner error', reply.kind ?? 'other');
    });
    this.failIfError(event);
    return event;
  }

  async readerStep(op: 'open' | 'close', batch?: number): Promise<StepEvent> {
    const event = await this.withRetry('reader', op, {}, batch, () =>
      op === 'open' ? this.reader.open() : this.reader.close(),
    );
    this.failIfError(event);
    return event;
  }

  /** Runs a search and records the tokens it saw; the caller checks it (after a batch settles). */
  async search(mode: SearchMode, token: string, batch?: number): Promise<StepEvent> {
    let seen: string[] = [];
    const event = await this.withRetry('reader', 'search', { mode, token }, batch, async () => {
      const results = await this.reader.search(token, { mode, topK: SEARCH_TOP_K });
      seen = [...new Set(results.flatMap((r) => tokensIn(r.preview)))];
    });
    const recorded = event.ok ? this.history.record({ ...event, seen }) : this.history.record(event);
    this.failIfError(recorded);
    return recorded;
  }

  /** Applies the strategy's contract to a finished search. */
  check(search: StepEvent): void {
    const violation = checkSearch(this.strategy.contract, this.history.steps, search, this.checker);
    if (violation !== undefined)
      throw new StepFailure(search, `contract ${this.strategy.contract}: ${violation.message}`);
  }

  private failIfError(event: StepEvent): void {
    if (event.ok) return;
    const what = event.errorKind === 'lock-conflict' ? 'lock conflict' : `${event.errorKind ?? 'error'}`;
    throw new StepFailure(event, `${what}: ${event.actor}.${event.op} failed: ${event.error}`);
  }

  /**
   * Runs `action`, retrying lock conflicts within the strategy's bound, and returns the event
   * to record. Searches are recorded by the caller (they add what they saw); other steps here.
   */
  private async withRetry(
    actor: 'owner' | 'reader',
    op: string,
    args: Record<string, unknown>,
    batch: number | undefined,
    action: () => Promise<void>,
  ): Promise<StepEvent> {
    const retry = this.strategy.retry;
    const start = this.history.now();
    let retries = 0;
    for (;;) {
      try {
        await action();
        return this.finish({ actor, op, args, start, ok: true, retries, batch });
      } catch (error) {
        const kind = error instanceof KindedError ? error.kind : errorKindOf(error);
        if (kind === 'lock-conflict' && retry !== undefined && retries < retry.attempts) {
          retries++;
          await sleep(retry.backoffMs * retries);
          continue;
        }
        return this.finish({
          actor,
          op,
          args,
          start,
          ok: false,
          error: rootMessage(error),
          errorKind: kind,
          retries,
          batch,
        });
      }
    }
  }

  private finish(event: {
    actor: 'owner' | 'reader';
    op: string;
    args: Record<string, unknown>;
    start: number;
    ok: boolean;
    error?: string;
    errorKind?: string;
    retries: number;
    batch: number | undefined;
  }): StepEvent {
    const full: Omit<StepEvent, 'index'> = {
      actor: event.actor,
      op: event.op,
      args: event.args,
      pid: event.actor === 'owner' ? this.owner.pid : process.pid,
      start: event.start,
      end: this.history.now(),
      ok: event.ok,
      ...(event.error === undefined ? {} : { error: event.error }),
      ...(event.errorKind === undefined ? {} : { errorKind: event.errorKind }),
      ...(event.retries > 0 ? { retries: event.retries } : {}),
      ...(event.batch === undefined ? {} : { batch: event.batch }),
    };
    // Searches are recorded once they know what they saw.
    return event.op === 'search' ? ({ ...full, index: -1 } as StepEvent) : this.history.record(full);
  }
}

class KindedError extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
  }
}

function errorKindOf(error: unknown): string {
  if (error instanceof EmbecodeError) {
    return error.kind === 'locked' ? 'lock-conflict' : error.kind;
  }
  return classifyDuckDBError(error).kind;
}

/** The trace shows DuckDB's own words; our wrappers keep them as the cause. */
function rootMessage(error: unknown): string {
  return error instanceof EmbecodeError && error.cause !== undefined
    ? messageOf(error.cause)
    : messageOf(error);
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
