import { join } from 'node:path';
import fc from 'fast-check';
import { messageOf } from '../index/duckdb-errors.js';
import type { Embedder } from '../index/embedder.js';
import type { ReaderSide, Strategy } from '../strategies/strategy.js';
import { contractChecker } from './checkers/contract.js';
import type { IntruderHandle } from './clients/intruder-actor.js';
import { initialModel, type StressModel } from './model.js';
import { type FaultControl, type OwnerHandle, StressWorld } from './world.js';

export interface RunContext {
  readonly strategy: Strategy;
  readonly embedder: Embedder;
  readonly owner: OwnerHandle;
  /** A fresh directory for this run's index file and the strategy's own files. */
  readonly dir: string;
  /**
   * The run's readers (children in a stress run; the strategy's own in-process reader in the floor
   * benchmark). A promise lets them get ready while the owner opens the index.
   */
  readonly readers: readonly ReaderSide[] | Promise<readonly ReaderSide[]>;
  readonly intruder?: IntruderHandle;
  /** Present when the run injects faults. */
  readonly faults?: FaultControl;
  readonly stepDeadlineMs: number;
}

/** A run whose commands failed; carries the world so its history can be reported. */
export class RunFailure extends Error {
  constructor(
    readonly world: StressWorld,
    override readonly cause: unknown,
  ) {
    super(messageOf(cause));
  }
}

/** A failure of the test set-up itself, not of the system under test: it is an error, not a counterexample. */
export class SetupError extends Error {}

/**
 * One run: the owner opens a new index in `dir`, the commands run against it, and every actor
 * lets go of the file afterwards (also when a command fails). The benchmark's in-process floor
 * calls this with an in-process owner and reader, so both pay for exactly the same work.
 */
export async function executeRun(
  context: RunContext,
  commands: Iterable<fc.AsyncCommand<StressModel, StressWorld>>,
): Promise<StressWorld> {
  const { strategy, owner, dir } = context;
  const dbPath = join(dir, 'index.db');
  const readersReady = Promise.resolve(context.readers);
  const [opened, readers] = await Promise.all([
    owner
      .request('open', { db: dbPath, dir })
      .catch((error: unknown) => ({ ok: false, error: messageOf(error) })),
    readersReady,
  ]);
  if (!opened.ok) throw new SetupError(`owner ${owner.pid} could not open ${dbPath}: ${opened.error}`);
  const world = new StressWorld({
    strategy,
    context: { dbPath, workDir: dir },
    owner,
    readers,
    ...(context.intruder === undefined ? {} : { intruder: context.intruder }),
    ...(context.faults === undefined ? {} : { faults: context.faults }),
    checker: (onMatch) => contractChecker(strategy, context.embedder, onMatch),
    stepDeadlineMs: context.stepDeadlineMs,
  });
  try {
    await fc.asyncModelRun(
      () => ({
        model: initialModel(readers.length, strategy.readerNeedsOwner === true),
        real: world,
      }),
      commands,
    );
    return world;
  } catch (error) {
    throw new RunFailure(world, error);
  } finally {
    await Promise.all(world.readers.map((r) => r.reader.close().catch(() => undefined)));
    await world.owner.current.request('release').catch(() => undefined);
  }
}
