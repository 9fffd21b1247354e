import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { LOCK_FILE } from '../../election/election.js';
import { projectStateDir } from '../../serve/paths.js';
import type { OutsiderRule } from '../../strategies/strategy.js';
import type { Checker } from '../checkers/checker.js';
import { IntruderActor, type IntruderHandle } from '../clients/intruder-actor.js';
import { Recorder } from '../clients/recorder.js';
import { History, type StepEvent } from '../history.js';
import { checkStep, StepFailure } from '../world.js';
import { ServeActor } from './client.js';
import { hasOpen, type LockView, readLockView } from './locks.js';
import type { ProjectTree } from './project.js';
import type { ServeChild } from './serve-child.js';

/** At most this many serve processes are alive at once in a run. */
export const MAX_SERVES = 3;

export interface ServeWorldParts {
  readonly project: ProjectTree;
  readonly dbPath: string;
  readonly intruder?: IntruderHandle;
  readonly checker: Checker;
  readonly stepDeadlineMs: number;
  /** After the owner dies with a reader alive, a new owner must hold both locks within this. */
  readonly takeoverBoundMs: number;
  /** Starts a serve process on the run's project and index. */
  readonly spawn: () => ServeChild;
}

/** What the intruder may try, per target: kept out while a serve holds it, anything otherwise. */
function rule(target: 'index' | 'election lock', path: string): OutsiderRule {
  return {
    target,
    resolve: () => path,
    verdict: (_access, owner) => (owner.holds ? 'refused' : 'either'),
  };
}

/**
 * The real system of one serve run: up to three `embecode serve` processes on one project tree
 * and index, the intruder, the recorder and checker shared with the strategy target, and a watch
 * on the kernel's lock table that runs the whole time. Commands call into it.
 */
export class ServeWorld {
  readonly history = new History();
  readonly recorder: Recorder;
  readonly serves: (ServeActor | undefined)[] = Array.from({ length: MAX_SERVES }, () => undefined);
  readonly intruder: IntruderActor | undefined;
  readonly electionLock: string;
  /** Every serve started in this run (also dead ones), for the lock checks' "is it ours". */
  private readonly everyPid = new Set<number>();
  /** ...and their actors, for the stderr of the failure artifact. */
  private readonly everyActor: ServeActor[] = [];
  private watchError: StepFailure | undefined;
  private watching = true;
  private readonly watcher: Promise<void>;
  /** Takeover times measured in this run (ms from the owner's kill to a new owner holding both locks). */
  readonly takeovers: number[] = [];

  constructor(readonly parts: ServeWorldParts) {
    this.recorder = new Recorder(this.history, parts.stepDeadlineMs);
    this.electionLock = join(projectStateDir(parts.dbPath), LOCK_FILE);
    this.intruder =
      parts.intruder === undefined ? undefined : new IntruderActor(parts.intruder, this.recorder);
    this.watcher = this.watch();
  }

  get project(): ProjectTree {
    return this.parts.project;
  }

  alive(): ServeActor[] {
    return this.serves.filter((s): s is ServeActor => s?.alive === true);
  }

  serve(slot: number): ServeActor | undefined {
    return this.serves[slot % MAX_SERVES];
  }

  /** Starts a serve in `slot` and waits (bounded) for its first role line. */
  async start(slot: number): Promise<StepEvent> {
    const child = this.parts.spawn();
    this.everyPid.add(child.pid);
    const actor = new ServeActor(`serve-${slot + 1}`, child, this.recorder);
    this.serves[slot % MAX_SERVES] = actor;
    this.everyActor.push(actor);
    return actor.started(this.parts.stepDeadlineMs);
  }

  async locks(): Promise<LockView | undefined> {
    return readLockView(this.parts.dbPath, this.electionLock);
  }

  /** The serve holding the election lock now, if it is one of ours and alive. */
  async owner(): Promise<ServeActor | undefined> {
    const view = await this.locks();
    const pid = view?.election[0];
    return this.alive().find((s) => s.pid === pid);
  }

  /**
   * After the owner was killed: with a serve still alive, exactly one of them must come to hold
   * both the election lock and the index within the bound. Recorded as a step of its own.
   */
  async awaitTakeover(killedAt: number, previous: number): Promise<StepEvent | undefined> {
    if (this.alive().length === 0) return undefined;
    const bound = this.parts.takeoverBoundMs;
    const { event } = await this.recorder.step(
      {
        actor: 'nemesis',
        pid: previous,
        op: 'takeover',
        args: { boundMs: bound },
        describe: (took: { pid: number; ms: number }) => ({ detail: { newOwner: took.pid, ms: took.ms } }),
      },
      async () => {
        for (;;) {
          const view = await this.locks();
          const alive = this.alive().map((s) => s.pid);
          const owner = view?.election[0];
          if (
            view !== undefined &&
            owner !== undefined &&
            alive.includes(owner) &&
            view.index.length === 1 &&
            view.index[0] === owner
          ) {
            const ms = Math.round(this.history.now() - killedAt);
            this.takeovers.push(ms);
            return { pid: owner, ms };
          }
          if (view === undefined) return { pid: -1, ms: -1 };
          const waited = this.history.now() - killedAt;
          if (waited > bound) {
            throw new Error(
              `no new owner within ${bound} ms of killing owner ${previous}: election lock held by ${view.election.join(', ') || 'nobody'}, index by ${view.index.join(', ') || 'nobody'}, serves alive: ${alive.join(', ')}`,
            );
          }
          await sleep(5);
        }
      },
    );
    if (event.outcome !== 'ok') {
      throw new StepFailure(event, `takeover: ${event.error}`, 'takeover');
    }
    return event;
  }

  /**
   * The lock rules, on one snapshot of the kernel's lock table: at most one process holds the
   * index, at most one the election lock; a serve holding the index holds the election lock too;
   * and no serve but the lock holder has the index locked in any way (a reader never opens it).
   */
  private judgeLocks(view: LockView): string | undefined {
    const intruder = this.parts.intruder?.pid;
    const index = view.index.filter((pid) => pid !== intruder);
    if (view.election.length > 1) return `two processes hold the election lock: ${view.election.join(', ')}`;
    if (index.length > 1) return `two processes hold the index: ${index.join(', ')}`;
    const holder = index[0];
    if (holder !== undefined && this.everyPid.has(holder) && view.election[0] !== holder) {
      return `serve ${holder} holds the index but the election lock is held by ${view.election[0] ?? 'nobody'}`;
    }
    const readersIn = view.indexAny.filter(
      (pid) => this.everyPid.has(pid) && pid !== view.election[0] && pid !== holder,
    );
    if (readersIn.length > 0) return `reader serve ${readersIn.join(', ')} has a lock on the index`;
    return undefined;
  }

  /** Watches the lock table every few ms for the whole run. */
  private async watch(): Promise<void> {
    while (this.watching) {
      const view = await this.locks().catch(() => undefined);
      if (view !== undefined) {
        const wrong = this.judgeLocks(view);
        if (wrong !== undefined && this.watchError === undefined) {
          const event = this.history.record({
            actor: 'nemesis',
            op: 'lock-watch',
            args: {},
            pid: process.pid,
            start: this.history.now(),
            end: this.history.now(),
            outcome: 'ok',
            detail: { index: view.index, election: view.election, indexAny: view.indexAny },
          });
          this.watchError = new StepFailure(event, `locks: ${wrong}`, 'locks');
        }
      }
      await sleep(10);
    }
  }

  /** After every step: the lock watch's verdict, the fd check of every reader, then the checker. */
  async check(event: StepEvent): Promise<void> {
    if (this.watchError !== undefined) throw this.watchError;
    const owner = (await this.locks())?.election[0];
    const files = [this.parts.dbPath, `${this.parts.dbPath}.wal`];
    for (const serve of this.alive()) {
      if (serve.pid === owner || serve.role !== 'reader') continue;
      // A reader that was promoted between the two reads is an owner, not a reader with the file.
      if (await hasOpen(serve.pid, files)) {
        const now = (await this.locks())?.election[0];
        if (now !== serve.pid && serve.role === 'reader') {
          throw new StepFailure(event, `locks: reader serve ${serve.pid} has the index open`, 'locks');
        }
      }
    }
    await checkStep(this.parts.checker, this.history.steps, event);
  }

  /** Intruder rules: the index, or the election lock. */
  intruderRule(target: number): { rule: OutsiderRule; path: string } {
    const path = target % 2 === 0 ? this.parts.dbPath : this.electionLock;
    return { rule: rule(target % 2 === 0 ? 'index' : 'election lock', path), path };
  }

  /** Stops the lock watch and every serve still alive (SIGKILL: the run is over). */
  async close(): Promise<void> {
    this.watching = false;
    await this.watcher;
    await Promise.all(
      this.everyActor.map(async (s) => {
        s.child.kill('SIGKILL');
        await s.child.exited;
        await s.close();
      }),
    );
  }

  /** The stderr of every serve of this run, for the failure artifact. */
  stderr(): string {
    return this.everyActor.map((s) => `--- ${s.actor} (pid ${s.pid})\n${s.child.stderr}`).join('\n');
  }
}
