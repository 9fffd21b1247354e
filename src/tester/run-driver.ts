import { mkdirSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultEmbedder } from '../index/embedder.js';
import { onTerminate } from '../process/cleanup.js';
import type { Strategy } from '../strategies/strategy.js';
import { ChildPool, type RunFiles } from './child-pool.js';
import { commandsThatRan, type StressCommand } from './commands/serialize.js';
import { copyEmptyIndex, createEmptyIndex } from './empty-index.js';
import { FailureLog } from './failure-record.js';
import type { StepEvent } from './history.js';
import { addReach, NO_REACH, type Reach, reachOf } from './reach.js';
import { countFaults, type FaultCounts, NO_FAULTS } from './report.js';
import { executeRun, RunFailure, SetupError } from './run.js';
import type { RunActor } from './timeline.js';
import type { FaultControl, StressWorld } from './world.js';

export interface DriverOptions {
  readonly readers: number;
  readonly stepDeadlineMs: number;
  readonly faults: boolean;
  /** Called after every run (for a progress line, and a run history); `run` is absent when the run could not start. */
  readonly onRun?: (runs: number, failures: FailureLog, run?: AttemptRecord) => void;
}

/** What one run did, for a run history. */
export interface AttemptRecord {
  /** The commands whose preconditions held, in order. */
  readonly commands: readonly StressCommand[];
  readonly steps: readonly StepEvent[];
  /** The failure's cause, when the run failed. */
  readonly error?: unknown;
}

/** The processes of a run as it ended: the owner, each reader, the intruder, the nemesis (this process). */
function actorsOf(world: StressWorld, faults: boolean): RunActor[] {
  return [
    { actor: 'owner', pid: world.owner.pid },
    ...world.readers.map((r) => ({ actor: r.actor, pid: r.pid })),
    ...(world.intruder === undefined ? [] : [{ actor: 'intruder', pid: world.intruder.pid }]),
    ...(faults ? [{ actor: 'nemesis', pid: process.pid }] : []),
  ];
}

/** The fault hooks of one run, on the pool's children. */
function faultControl(pool: ChildPool, files: RunFiles): FaultControl {
  return {
    killOwner: () => pool.killOwner(),
    restartOwner: () => pool.restartOwner(files),
    killReader: (slot) => pool.killReader(slot),
    restartReader: (slot) => pool.reader(slot, files),
    // stat, never open: the tester holds no descriptor of the index's files.
    walBytes: () => statSync(`${files.dbPath}.wal`, { throwIfNoEntry: false })?.size ?? 0,
  };
}

/**
 * Runs command sequences, one fresh index directory each, against one pool of real children,
 * and keeps what a report needs: the failures (original and minimal), what the runs reached and
 * the faults they dealt. The property, the minimizer, a command replay and a regression test's
 * fixed sequence all run through `attempt`, so they run exactly alike.
 */
export class RunDriver {
  readonly failures = new FailureLog();
  runs = 0;
  reach: Reach = NO_REACH;
  faultCounts: FaultCounts = NO_FAULTS;
  private readonly pool: ChildPool;
  private readonly base: string;
  private readonly forgetBase: () => void;
  private readonly embedder = createDefaultEmbedder();
  private emptyIndex: Promise<string> | undefined;
  /**
   * Run directories being removed. Removal runs beside the next run instead of before it (a
   * synchronous rm cost each run ~2 ms of this process's main thread); `close` waits for them.
   */
  private readonly removals = new Set<Promise<void>>();

  constructor(
    private readonly strategy: Strategy,
    private readonly options: DriverOptions,
  ) {
    this.pool = new ChildPool(strategy.name, options.readers, true);
    this.base = mkdtempSync(join(tmpdir(), `embecode-stress-${strategy.name}-`));
    const base = this.base;
    this.forgetBase = onTerminate(() => rmSync(base, { recursive: true, force: true }));
  }

  /** The temp directory every run's directory lives in (error messages name it); removed by `close`. */
  get runsDir(): string {
    return this.base;
  }

  /** The empty index each run's index starts as a copy of (see empty-index.ts); made on first use. */
  emptyIndexPath(): Promise<string> {
    this.emptyIndex ??= createEmptyIndex(join(this.base, 'empty-index.db'), this.embedder);
    return this.emptyIndex;
  }

  /** One run of `commands` on a fresh index; rejects with a RunFailure when a step fails. */
  async attempt(commands: Iterable<StressCommand>): Promise<readonly StepEvent[]> {
    this.runs++;
    const dir = join(this.base, `run-${this.runs}`);
    mkdirSync(dir);
    const files: RunFiles = { dbPath: join(dir, 'index.db'), dir };
    let record: AttemptRecord | undefined;
    try {
      copyEmptyIndex(await this.emptyIndexPath(), files.dbPath);
      const world = await this.runOn(files, commands).catch(async (error: unknown) => {
        // An owner that died or hangs between runs (of something the last run left running)
        // cannot open this run's files; that is no reason to end the whole check: start a new one.
        if (!(error instanceof SetupError)) throw error;
        await this.pool.killOwner();
        return this.runOn(files, commands);
      });
      this.count(world.history.steps, commands);
      record = { commands: commandsThatRan(commands), steps: world.history.steps };
      return world.history.steps;
    } catch (error) {
      if (!(error instanceof RunFailure)) throw error;
      const steps = error.world.history.steps;
      this.count(steps, commands);
      const hung = steps.some((s) => s.errorKind === 'hang');
      const pending = hung ? `what each process was doing: ${this.pool.pendingWork()}` : undefined;
      const ran = commandsThatRan(commands);
      record = { commands: ran, steps, error: error.cause };
      this.failures.record(
        steps,
        this.pool.stderr(),
        error.cause,
        pending,
        ran,
        actorsOf(error.world, this.options.faults),
      );
      // A step that hung may still be running: end every child so nothing goes on in the background.
      if (hung) await this.pool.killAll();
      throw error;
    } finally {
      this.remove(dir);
      this.options.onRun?.(this.runs, this.failures, record);
    }
  }

  private async runOn(files: RunFiles, commands: Iterable<StressCommand>) {
    // Readers attach while the owner opens the run's index: neither touches the other's files
    // before the first command, and a run pays for the slower of the two, not their sum.
    const owner = await this.pool.ready();
    const readers = Promise.all(
      Array.from({ length: this.options.readers }, (_, slot) => this.pool.reader(slot, files)),
    );
    return executeRun(
      {
        strategy: this.strategy,
        embedder: this.embedder,
        owner,
        dir: files.dir,
        readers,
        ...(this.pool.intruder === undefined ? {} : { intruder: this.pool.intruder }),
        stepDeadlineMs: this.options.stepDeadlineMs,
        ...(this.options.faults ? { faults: faultControl(this.pool, files) } : {}),
      },
      commands,
    );
  }

  /** Whether `commands` still fails, and the same way as the minimal failure so far. */
  async stillFails(commands: readonly StressCommand[]): Promise<boolean> {
    const before = this.failures.minimal;
    try {
      await this.attempt(commands);
      return false;
    } catch (error) {
      if (!(error instanceof RunFailure)) throw error;
      if (this.failures.minimal?.kind === before?.kind) return true;
      // A different failure is not the same bug: keep the one we had.
      if (before !== undefined) this.failures.minimal = before;
      return false;
    }
  }

  /** Removes a finished run's directory in the background; a failure leaves it to `close`. */
  private remove(dir: string): void {
    const removal = rm(dir, { recursive: true, force: true }).catch(() => undefined);
    this.removals.add(removal);
    void removal.finally(() => this.removals.delete(removal));
  }

  /** Stops every child and removes every run directory. */
  async close(): Promise<void> {
    await this.pool.stopAll();
    await Promise.all(this.removals);
    rmSync(this.base, { recursive: true, force: true });
    this.forgetBase();
  }

  private count(steps: readonly StepEvent[], commands: Iterable<StressCommand>): void {
    this.faultCounts = countFaults(this.faultCounts, steps);
    const kinds = commandsThatRan(commands).map((c) => c.constructor.name);
    this.reach = addReach(this.reach, reachOf(steps, kinds));
  }
}
