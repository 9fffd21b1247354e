import { errorKindOf, RemoteError, rootMessage } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
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

/** What faults can do to a run's processes; absent when the run has no faults. */
export interface FaultControl {
  /** SIGKILLs the owner child. */
  killOwner(): Promise<void>;
  /** Starts a new owner child on the run's files; resolves once it holds them. */
  restartOwner(): Promise<OwnerHandle>;
  /** SIGKILLs the reader child (even while it holds a READ_ONLY lock). */
  killReader(): Promise<void>;
  /** A fresh reader child attached to the run's files, not yet open. */
  restartReader(): Promise<ReaderSide>;
}

/** A reader in another process says which; one in this process has none. */
function readerPid(reader: ReaderSide): number {
  const pid = (reader as { pid?: unknown }).pid;
  return typeof pid === 'number' ? pid : process.pid;
}

/**
 * The real system under test for one run: the owner child, this process's reader, the history
 * of what they did and the contract check after every step. Commands call into it; it never
 * decides what to do next, only records and judges.
 */
export class StressWorld {
  readonly history = new History();
  private readonly checker: CheckerState = newCheckerState();
  private nextBatch = 1;
  private readerDead = false;

  constructor(
    readonly strategy: Strategy,
    private owner: OwnerHandle,
    private currentReader: ReaderSide,
    readonly embedder: Embedder,
    private readonly faults?: FaultControl,
  ) {}

  /** The reader now in use (a fault may have replaced it). */
  get reader(): ReaderSide {
    return this.currentReader;
  }

  /** The owner now in use (a fault may have replaced it). */
  get ownerHandle(): OwnerHandle {
    return this.owner;
  }

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
      if (!reply.ok) throw new RemoteError(reply.error ?? 'unknown owner error', reply.kind ?? 'other');
    });
    this.failIfError(event);
    return event;
  }

  async readerStep(op: 'open' | 'close', batch?: number): Promise<StepEvent> {
    if (op === 'open' && this.readerDead) {
      this.currentReader = await this.fault().restartReader();
      this.readerDead = false;
    }
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

  /** nemesis: SIGKILL the owner between steps. */
  async killOwner(): Promise<void> {
    const start = this.history.now();
    const pid = this.owner.pid;
    await this.fault().killOwner();
    this.nemesis('kill-owner', { pid }, start);
  }

  /**
   * nemesis: SIGKILL the owner `delayMs` into a write. The write's outcome is whatever its reply
   * said if one arrived first, else undetermined (`owner-died`): the checker accepts either.
   */
  async killDuringWrite(path: string, token: string, content: string, delayMs: number): Promise<void> {
    const start = this.history.now();
    const pid = this.owner.pid;
    const pending = this.owner.request('write', { files: [{ path, content }] }).then(
      (reply) =>
        reply.ok
          ? { ok: true }
          : { ok: false, error: reply.error ?? 'write failed', kind: reply.kind ?? 'other' },
      (error: unknown) => ({ ok: false, error: messageOf(error), kind: 'owner-died' }),
    );
    await sleep(delayMs);
    const killedAt = this.history.now();
    await this.fault().killOwner();
    const outcome = await pending;
    const event = this.history.record({
      actor: 'owner',
      op: 'write',
      args: { path, token },
      pid,
      start,
      end: this.history.now(),
      ok: outcome.ok,
      ...(outcome.ok ? {} : { error: outcome.error, errorKind: outcome.kind }),
    });
    this.nemesis('kill-owner', { pid, duringWrite: true }, killedAt);
    if (!event.ok && event.errorKind !== 'owner-died') this.failIfError(event);
  }

  /** nemesis: start a new owner on the same files (recovery after a kill). */
  async restartOwner(): Promise<void> {
    const start = this.history.now();
    try {
      this.owner = await this.fault().restartOwner();
    } catch (error) {
      const event = this.history.record({
        actor: 'owner',
        op: 'restart',
        args: {},
        pid: 0,
        start,
        end: this.history.now(),
        ok: false,
        error: rootMessage(error),
        errorKind: errorKindOf(error),
      });
      this.failIfError(event);
    }
    this.history.record({
      actor: 'owner',
      op: 'restart',
      args: {},
      pid: this.owner.pid,
      start,
      end: this.history.now(),
      ok: true,
    });
  }

  /** nemesis: SIGKILL the reader process; the next reader.open starts a new one. */
  async killReader(): Promise<void> {
    const start = this.history.now();
    const pid = readerPid(this.reader);
    await this.fault().killReader();
    this.readerDead = true;
    this.nemesis('kill-reader', { pid }, start);
  }

  private nemesis(op: string, args: Record<string, unknown>, start: number): void {
    this.history.record({
      actor: 'nemesis',
      op,
      args,
      pid: process.pid,
      start,
      end: this.history.now(),
      ok: true,
    });
  }

  private fault(): FaultControl {
    if (this.faults === undefined)
      throw new Error('this run has no faults enabled; a fault command was generated anyway');
    return this.faults;
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
        const kind = errorKindOf(error);
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
      pid: event.actor === 'owner' ? this.owner.pid : readerPid(this.reader),
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

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
