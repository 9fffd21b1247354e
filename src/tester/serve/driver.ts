import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { usageError } from '../../errors.js';
import { createDefaultEmbedder } from '../../index/embedder.js';
import { MAX_SOCKET_PATH_BYTES } from '../../ipc/socket-dir.js';
import { onTerminate } from '../../process/cleanup.js';
import { projectStateDir, serveSocketPath } from '../../serve/paths.js';
import { commandsThatRan } from '../commands/serialize.js';
import { FailureLog } from '../failure-record.js';
import type { StepEvent } from '../history.js';
import { IntruderClient } from '../intruder/intruder-client.js';
import { addReach, NO_REACH, type Reach, reachOf } from '../reach.js';
import { countFaults, type FaultCounts, NO_FAULTS } from '../report.js';
import { DEFAULTS } from '../settings.js';
import { StepFailure } from '../world.js';
import { serveChecker } from './checker.js';
import { initialServeModel, type ServeCommand } from './commands.js';
import { ProjectTree } from './project.js';
import { ServeChild } from './serve-child.js';
import { TAKEOVER_BOUND_MS } from './takeover-bound.js';
import { ServeWorld } from './world.js';

export interface ServeDriverOptions {
  readonly stepDeadlineMs: number;
  /** A new owner must hold both locks within this of the old owner's kill. */
  readonly takeoverBoundMs: number;
  /** Extra arguments for every `embecode serve` (a mutant's, say). */
  readonly serveArgs?: readonly string[];
  readonly onRun?: (runs: number, failures: FailureLog<ServeCommand>) => void;
}

/** The largest PID Linux hands out (PID_MAX_LIMIT, 2^22): 7 digits. */
const LONGEST_PID = 4_194_304;

/** A run that failed; carries its world for the report. */
export class ServeRunFailure extends Error {
  constructor(
    readonly world: ServeWorld,
    override readonly cause: unknown,
  ) {
    super(cause instanceof Error ? cause.message : String(cause));
  }
}

/**
 * Runs serve command sequences, each on a fresh project tree and index in its own directory, with
 * real `embecode serve` processes (none outlives its run) and one intruder child for the whole
 * check. Same role as the strategy target's RunDriver: the property, the minimizer and a replay all
 * go through `attempt`.
 */
export class ServeDriver {
  readonly failures = new FailureLog<ServeCommand>();
  runs = 0;
  reach: Reach = NO_REACH;
  faultCounts: FaultCounts = NO_FAULTS;
  /** Takeover times of every run so far (ms from an owner's kill to a new owner holding both locks). */
  readonly takeovers: number[] = [];
  private readonly base: string;
  private readonly forgetBase: () => void;
  private readonly embedder = createDefaultEmbedder();
  private intruder: IntruderClient | undefined;

  constructor(private readonly options: ServeDriverOptions) {
    this.base = mkdtempSync(join(tmpdir(), 'embecode-stress-serve-'));
    const base = this.base;
    // Every serve binds a socket under its run's index, and a Unix socket path has 107 bytes at
    // most: under a deep TMPDIR the serves of later runs could not start, which would read as a
    // counterexample. Refuse up front instead, for the longest run number and PID there can be.
    const longest = serveSocketPath(projectStateDir(join(base, 'run-999999', 'index.db')), LONGEST_PID);
    const bytes = Buffer.byteLength(longest);
    if (bytes > MAX_SOCKET_PATH_BYTES) {
      rmSync(base, { recursive: true, force: true });
      throw usageError(
        `the serve target's sockets would be up to ${bytes} bytes long under ${tmpdir()}, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of Unix sockets; set TMPDIR to a shorter directory`,
      );
    }
    this.forgetBase = onTerminate(() => rmSync(base, { recursive: true, force: true }));
  }

  async attempt(commands: Iterable<ServeCommand>): Promise<readonly StepEvent[]> {
    this.runs++;
    const dir = join(this.base, `run-${this.runs}`);
    mkdirSync(dir);
    if (this.intruder === undefined || !this.intruder.alive)
      this.intruder = await IntruderClient.start('serve');
    const project = new ProjectTree(join(dir, 'project'), join(dir, 'scratch'));
    const dbPath = join(dir, 'index.db');
    const world = new ServeWorld({
      project,
      dbPath,
      intruder: this.intruder,
      checker: serveChecker(project, this.embedder),
      stepDeadlineMs: this.options.stepDeadlineMs,
      takeoverBoundMs: this.options.takeoverBoundMs,
      spawn: () => new ServeChild({ dir: project.dir, db: dbPath, extraArgs: this.options.serveArgs ?? [] }),
    });
    try {
      // Every run begins with one serve running (an owner, once it has elected itself), so that
      // every generated command has something to act on from the first step.
      const first = await world.start(0);
      await world.check(first);
      if (first.outcome !== 'ok')
        throw new StepFailure(first, `serve-start: serve-1 did not start: ${first.error}`, 'serve-start');
      const model = initialServeModel();
      model.alive[0] = true;
      await fc.asyncModelRun(() => ({ model, real: world }), commands);
      await world.close();
      this.count(world);
      return world.history.steps;
    } catch (error) {
      await world.close();
      this.count(world);
      this.failures.record(world.history.steps, world.stderr(), error, undefined, commandsThatRan(commands));
      throw new ServeRunFailure(world, error);
    } finally {
      rmSync(dir, { recursive: true, force: true });
      this.options.onRun?.(this.runs, this.failures);
    }
  }

  /** Whether `commands` still fails, the same way as the minimal failure so far. */
  async stillFails(commands: readonly ServeCommand[]): Promise<boolean> {
    const before = this.failures.minimal;
    try {
      await this.attempt(commands);
      return false;
    } catch (error) {
      if (!(error instanceof ServeRunFailure)) throw error;
      if (this.failures.minimal?.kind === before?.kind) return true;
      if (before !== undefined) this.failures.minimal = before;
      return false;
    }
  }

  async close(): Promise<void> {
    await this.intruder?.stop().catch(() => undefined);
    this.intruder = undefined;
    rmSync(this.base, { recursive: true, force: true });
    this.forgetBase();
  }

  private count(world: ServeWorld): void {
    const steps = world.history.steps;
    this.takeovers.push(...world.takeovers);
    this.faultCounts = countFaults(this.faultCounts, steps);
    this.reach = addReach(this.reach, reachOf(steps));
  }
}

/**
 * Runs one fixed serve command sequence outside fast-check (regression tests keep shrunk traces
 * this way). Resolves with the history; rejects with the failing step's StepFailure.
 */
export async function runServeSequence(
  commands: Iterable<ServeCommand>,
  options: Partial<Omit<ServeDriverOptions, 'onRun'>> = {},
): Promise<{ steps: readonly StepEvent[]; takeovers: readonly number[] }> {
  const driver = new ServeDriver({
    stepDeadlineMs: options.stepDeadlineMs ?? DEFAULTS.stepDeadlineS * 1000,
    takeoverBoundMs: options.takeoverBoundMs ?? TAKEOVER_BOUND_MS,
    ...(options.serveArgs === undefined ? {} : { serveArgs: options.serveArgs }),
  });
  try {
    const steps = await driver.attempt(commands);
    return { steps, takeovers: driver.takeovers };
  } catch (error) {
    throw error instanceof ServeRunFailure ? error.cause : error;
  } finally {
    await driver.close();
  }
}
