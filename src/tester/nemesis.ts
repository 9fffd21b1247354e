import { setTimeout as sleep } from 'node:timers/promises';
import { errorKindOf, rootMessage } from '../errors.js';
import type { ReaderSide } from '../strategies/strategy.js';
import {
  type OwnerActor,
  type OwnerHandle,
  type PlannedWrite,
  requestOrThrow,
} from './clients/owner-actor.js';
import type { ReaderActor } from './clients/reader-actor.js';
import { outcomeOf } from './clients/recorder.js';
import type { History, StepEvent } from './history.js';

/** What faults can do to a run's processes; absent when the run has no faults. */
export interface FaultControl {
  /** SIGKILLs the owner child. */
  killOwner(): Promise<void>;
  /** Starts a new owner child on the run's files; resolves once it holds them. */
  restartOwner(): Promise<OwnerHandle>;
  /** SIGKILLs reader `slot`'s child (even while it holds a READ_ONLY lock). */
  killReader(slot: number): Promise<void>;
  /** A fresh child for reader `slot`, attached to the run's files, not yet open. */
  restartReader(slot: number): Promise<ReaderSide>;
  /** Bytes in the index's WAL file right now (0 when there is none): what a restart recovers. */
  walBytes?(): number;
}

/**
 * The nemesis: SIGKILLs and restarts, recorded as steps of their own so a trace shows where each
 * fault fell. A write the owner was killed in the middle of is recorded with whatever its reply
 * said if one arrived first, else as `info`: it may or may not have landed.
 */
export class Nemesis {
  private readonly dead = new Set<number>();

  constructor(
    private readonly history: History,
    private readonly control: FaultControl,
  ) {}

  async killOwner(owner: OwnerActor): Promise<void> {
    const start = this.history.now();
    const pid = owner.pid;
    await this.control.killOwner();
    this.record('kill-owner', { pid }, start);
  }

  async killDuringWrite(owner: OwnerActor, write: PlannedWrite, delayMs: number): Promise<StepEvent> {
    const start = this.history.now();
    const handle = owner.current;
    const pending = requestOrThrow(handle, 'write', { files: write.files }).then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    await sleep(delayMs);
    const killedAt = this.history.now();
    await this.control.killOwner();
    const outcome = await pending;
    const kind = outcome.ok ? undefined : errorKindOf(outcome.error);
    const event = this.history.record({
      actor: 'owner',
      op: 'write',
      args: { paths: write.files.map((f) => f.path), tokens: write.tokens },
      files: write.files,
      pid: handle.pid,
      start,
      end: this.history.now(),
      outcome: kind === undefined ? 'ok' : outcomeOf(kind),
      ...(kind === undefined ? {} : { error: rootMessage(outcome.ok ? '' : outcome.error), errorKind: kind }),
    });
    this.record('kill-owner', { pid: handle.pid, duringWrite: true }, killedAt);
    return event;
  }

  async restartOwner(owner: OwnerActor): Promise<StepEvent> {
    const start = this.history.now();
    // Taken before the new owner opens the index and replays (and folds away) its WAL.
    const walBytes = this.control.walBytes?.() ?? 0;
    try {
      owner.replace(await this.control.restartOwner());
      return this.history.record({
        actor: 'owner',
        op: 'restart',
        args: { walBytes },
        pid: owner.pid,
        start,
        end: this.history.now(),
        outcome: 'ok',
      });
    } catch (error) {
      const kind = errorKindOf(error);
      return this.history.record({
        actor: 'owner',
        op: 'restart',
        args: {},
        pid: 0,
        start,
        end: this.history.now(),
        outcome: 'fail',
        error: rootMessage(error),
        errorKind: kind,
      });
    }
  }

  async killReader(reader: ReaderActor, slot: number): Promise<void> {
    const start = this.history.now();
    const pid = reader.pid;
    const open = reader.reader.isOpen;
    await this.control.killReader(slot);
    this.dead.add(slot);
    this.record('kill-reader', { reader: reader.actor, pid, open }, start);
  }

  /** A reader the nemesis killed gets a new process before its next open. */
  async reviveIfDead(reader: ReaderActor, slot: number): Promise<void> {
    if (!this.dead.has(slot)) return;
    reader.replace(await this.control.restartReader(slot));
    this.dead.delete(slot);
  }

  private record(op: string, args: Record<string, unknown>, start: number): void {
    this.history.record({
      actor: 'nemesis',
      op,
      args,
      pid: process.pid,
      start,
      end: this.history.now(),
      outcome: 'ok',
    });
  }
}
