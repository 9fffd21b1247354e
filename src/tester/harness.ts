import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { usageError } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
import { createDefaultEmbedder } from '../index/embedder.js';
import { onTerminate } from '../process/cleanup.js';
import { getStrategy } from '../strategies/registry.js';
import type { Strategy } from '../strategies/strategy.js';
import { DEFAULT_ARTIFACTS_DIR, writeFailureArtifact } from './artifacts.js';
import { ChildPool, type RunFiles } from './child-pool.js';
import { stressCommands } from './commands/index.js';
import {
  commandsThatRan,
  deserializeCommands,
  type StressCommand,
  serializeCommands,
  simplerVersions,
} from './commands/serialize.js';
import { type FailedRun, FailureLog, replayPathOf } from './failure-record.js';
import type { StepEvent } from './history.js';
import { MINIMIZE_DEFAULTS, oneMinimal } from './minimize.js';
import { addReach, COMMON_GOALS, FAULT_GOALS, NO_REACH, reachOf, unreached } from './reach.js';
import { encodeReplayToken } from './replay-token.js';
import { type Counterexample, countFaults, NO_FAULTS, type StressSummary, toReportStep } from './report.js';
import { executeRun, type RunContext, RunFailure, SetupError } from './run.js';
import { DEFAULTS, type StressSettings } from './settings.js';
import { collectVersions } from './versions.js';
import type { FaultControl } from './world.js';

export { executeRun, type RunContext } from './run.js';

/** What the harness reports while it works (for a progress line). */
export interface ProgressEvent {
  readonly strategy: string;
  /** Runs executed so far, shrinking runs included. */
  readonly run: number;
  /** Runs the property asked for. */
  readonly runs: number;
  /** After the first failure every run is a shrink attempt: how many so far. */
  readonly shrinkStep?: number;
}

export interface RunOptions {
  readonly onProgress?: (event: ProgressEvent) => void;
  /**
   * Where a failure's artifact directory goes (default `.stress/` under the working directory,
   * or STRESS_ARTIFACTS); `false` writes none (replays, and the suite's expected failures).
   */
  readonly artifacts?: string | false;
}

/** Shell-safe replay command for a token (tokens are base64url, so no quoting is needed). */
export function replayCommandFor(token: string): string {
  return `npx embecode-stress replay ${token}`;
}

/** The fault hooks of one run, on the pool's children. */
function faultControl(pool: ChildPool, files: RunFiles): FaultControl {
  return {
    killOwner: () => pool.killOwner(),
    restartOwner: () => pool.restartOwner(files),
    killReader: (slot) => pool.killReader(slot),
    restartReader: (slot) => pool.reader(slot, files),
  };
}

/**
 * Runs the stress property for one strategy: fast-check generates command sequences, each run
 * drives the real owner child, the reader children and the intruder on a fresh index file, and
 * any failure is shrunk. With `settings.path` (a replay) it runs exactly that counterexample once.
 * Every run's directory is deleted when the run ends; a failure is kept as an artifact instead.
 */
export async function runStress(settings: StressSettings, options: RunOptions = {}): Promise<StressSummary> {
  const started = performance.now();
  const strategy = getStrategy(settings.strategy);
  const embedder = createDefaultEmbedder();
  const readers = settings.readers ?? DEFAULTS.readers;
  const stepDeadlineMs = (settings.stepDeadlineS ?? DEFAULTS.stepDeadlineS) * 1000;
  const base = mkdtempSync(join(tmpdir(), `embecode-stress-${strategy.name}-`));
  const forgetBase = onTerminate(() => rmSync(base, { recursive: true, force: true }));
  const pool = new ChildPool(strategy.name, readers, true);
  const faults = settings.faults === true;
  const failures = new FailureLog();
  let runs = 0;
  let faultCounts = NO_FAULTS;
  let shrunkFurther = 0;
  let reach = NO_REACH;

  /** One run of `commands` on a fresh index; rejects with a RunFailure when a step fails. */
  const attempt = async (commands: Iterable<StressCommand>): Promise<void> => {
    runs++;
    const dir = join(base, `run-${runs}`);
    mkdirSync(dir);
    const files: RunFiles = { dbPath: join(dir, 'index.db'), dir };
    try {
      const owner = await pool.ready();
      const readerSides = [];
      for (let slot = 0; slot < readers; slot++) readerSides.push(await pool.reader(slot, files));
      const context: RunContext = {
        strategy,
        embedder,
        owner,
        dir,
        readers: readerSides,
        ...(pool.intruder === undefined ? {} : { intruder: pool.intruder }),
        stepDeadlineMs,
        ...(faults ? { faults: faultControl(pool, files) } : {}),
      };
      const world = await executeRun(context, commands);
      faultCounts = countFaults(faultCounts, world.history.steps);
      reach = addReach(reach, reachOf(world.history.steps));
    } catch (error) {
      if (!(error instanceof RunFailure)) throw error;
      faultCounts = countFaults(faultCounts, error.world.history.steps);
      reach = addReach(reach, reachOf(error.world.history.steps));
      const hung = error.world.history.steps.some((s) => s.errorKind === 'hang');
      const pending = hung ? `what each process was doing: ${pool.pendingWork()}` : undefined;
      failures.record(
        error.world.history.steps,
        pool.stderr(),
        error.cause,
        pending,
        commandsThatRan(commands),
      );
      // A step that hung may still be running: end every child so nothing goes on in the background.
      if (hung) await pool.killAll();
      throw error;
    } finally {
      rmSync(dir, { recursive: true, force: true });
      options.onProgress?.({
        strategy: strategy.name,
        run: runs,
        runs: settings.runs,
        ...(failures.failed ? { shrinkStep: failures.shrinkAttempts } : {}),
      });
    }
  };

  const property = fc.asyncProperty(
    fc.commands(stressCommands({ faults, readers, intruder: true }), {
      maxCommands: settings.maxCommands,
      // Longer sequences than fast-check's default size: races need a few writes to race.
      size: 'max',
      ...(settings.replayPath === undefined ? {} : { replayPath: settings.replayPath }),
    }),
    async (commands) => {
      if (failures.failed) failures.shrinkAttempts++;
      await attempt(commands).catch((error: unknown) => {
        throw error instanceof RunFailure ? error.cause : error;
      });
    },
  );

  /** Whether `commands` still fails, and the same way as the minimal failure so far. */
  const stillFails = async (commands: readonly StressCommand[]): Promise<boolean> => {
    const kind = failures.minimal?.kind;
    const before = failures.minimal;
    try {
      await attempt(commands);
      return false;
    } catch (error) {
      if (!(error instanceof RunFailure)) throw error;
      if (failures.minimal?.kind === kind) return true;
      // A different failure is not the same bug: keep the one we had.
      if (before !== undefined) failures.minimal = before;
      return false;
    }
  };

  /** A replay of a token that carries its commands: exactly those, once, no generation. */
  const replayCommands = async (commands: readonly StressCommand[]) => {
    try {
      await attempt(commands);
      return { failed: false as const };
    } catch (error) {
      if (!(error instanceof RunFailure)) throw error;
      return { failed: true as const, error: error.cause };
    }
  };

  try {
    const details =
      settings.commands === undefined
        ? await fc.check(property, {
            numRuns: settings.runs,
            seed: settings.seed,
            ...(settings.path === undefined ? {} : { path: settings.path, endOnFailure: true }),
            ...(settings.timeLimitS === undefined
              ? {}
              : { interruptAfterTimeLimit: settings.timeLimitS * 1000, markInterruptAsFailure: false }),
          })
        : await replayAsDetails(await replayCommands(deserializeCommands(settings.commands)));
    // fast-check's shrinking can keep steps that do not matter: remove each one that can go.
    if (details.failed && settings.commands === undefined && failures.minimal?.commands !== undefined) {
      const reduced = await oneMinimal(
        failures.minimal.commands,
        stillFails,
        MINIMIZE_DEFAULTS,
        simplerVersions,
      );
      if (process.env.EMBECODE_DEBUG)
        process.stderr.write(
          `minimize: ${JSON.stringify({ ...reduced, commands: reduced.commands.map(String) })}\n`,
        );
      shrunkFurther = reduced.removed;
    }
    const common = { strategy: strategy.name, seed: settings.seed };
    const elapsed = () => Math.round(performance.now() - started);
    if (!details.failed) {
      // A passing suite that never reached what it exists to test proves nothing: it fails.
      const isSuite = settings.commands === undefined && settings.path === undefined;
      const missed =
        isSuite && details.numRuns >= DEFAULTS.runs
          ? unreached(reach, [...COMMON_GOALS, ...(faults ? FAULT_GOALS : [])])
          : [];
      return {
        ...common,
        status: missed.length === 0 ? 'passed' : 'failed',
        runs: details.numRuns,
        elapsedMs: elapsed(),
        reach,
        ...(missed.length === 0
          ? {}
          : { unreached: missed, reason: `never reached: ${missed.join('; ')} (seed ${settings.seed})` }),
        ...(details.interrupted ? { interrupted: true } : {}),
        ...(faults ? { faultsInjected: faultCounts } : {}),
      };
    }
    const error = details.errorInstance;
    const { original, minimal } = failures;
    if (error instanceof SetupError || original === undefined || minimal === undefined) {
      return {
        ...common,
        status: 'error',
        runs,
        elapsedMs: elapsed(),
        reason: messageOf(error ?? 'no failing run was recorded'),
      };
    }
    const counterexample = describeFailure(strategy, settings, details, minimal, original, shrunkFurther);
    const root = options.artifacts ?? artifactsRootFromEnv();
    const artifact =
      root === false
        ? undefined
        : writeFailureArtifact(root, {
            strategy: strategy.name,
            seed: settings.seed,
            counterexample,
            original: original.steps,
            minimal: minimal.steps,
            ownerStderr: minimal.stderr,
            failingStep: {
              ...(original.failingStep === undefined ? {} : { original: original.failingStep }),
              ...(minimal.failingStep === undefined ? {} : { minimal: minimal.failingStep }),
            },
            versions: await collectVersions(),
          });
    return {
      ...common,
      status: 'failed',
      runs,
      elapsedMs: elapsed(),
      reach,
      counterexample: artifact === undefined ? counterexample : { ...counterexample, artifact },
    };
  } finally {
    await pool.stopAll();
    rmSync(base, { recursive: true, force: true });
    forgetBase();
  }
}

/** A command replay's outcome in the shape of fast-check's run details, for one reporting path. */
async function replayAsDetails(outcome: { failed: boolean; error?: unknown }) {
  return {
    failed: outcome.failed,
    interrupted: false,
    numRuns: 1,
    numShrinks: 0,
    counterexample: null,
    counterexamplePath: null,
    errorInstance: outcome.error,
  };
}

/** STRESS_ARTIFACTS, or `.stress`; set but empty is a mistake worth a usage error. */
export function artifactsRootFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.STRESS_ARTIFACTS;
  if (root === undefined) return DEFAULT_ARTIFACTS_DIR;
  if (root.trim() === '') throw usageError('STRESS_ARTIFACTS is set but empty; unset it or name a directory');
  return root;
}

function describeFailure(
  strategy: Strategy,
  settings: StressSettings,
  details: {
    readonly counterexample: readonly unknown[] | null;
    readonly counterexamplePath: string | null;
    readonly numShrinks: number;
    readonly errorInstance: unknown;
  },
  minimal: FailedRun,
  original: FailedRun,
  shrunkFurther: number,
): Counterexample {
  const token = encodeReplayToken({
    ...settings,
    strategy: strategy.name,
    path: details.counterexamplePath ?? settings.path ?? '',
    replayPath: replayPathOf(String(details.counterexample?.[0] ?? '')),
    // The commands themselves, so a replay runs exactly the minimal sequence.
    ...(minimal.commands === undefined ? {} : { commands: serializeCommands(minimal.commands) }),
  });
  const steps = minimal.steps.map(toReportStep);
  return {
    steps,
    originalLength: Math.max(original.steps.length, steps.length),
    shrinks: details.numShrinks + shrunkFurther,
    kind: minimal.kind,
    error: minimal.message,
    ...(minimal.details === undefined ? {} : { details: minimal.details }),
    replay: token,
    replayCommand: replayCommandFor(token),
  };
}

/**
 * Runs one fixed command sequence against real children, outside fast-check: for regression
 * tests that keep a shrunk trace as code. Resolves with the history; rejects with the step's
 * failure (a StepFailure for lock conflicts, contract violations, intruders and hangs).
 */
export async function runSequence(
  strategyName: string,
  commands: Iterable<fc.AsyncCommand<import('./model.js').StressModel, import('./world.js').StressWorld>>,
  options: { readers?: number; faults?: boolean } = {},
): Promise<readonly StepEvent[]> {
  const strategy = getStrategy(strategyName);
  const readers = options.readers ?? DEFAULTS.readers;
  const dir = mkdtempSync(join(tmpdir(), `embecode-sequence-${strategy.name}-`));
  const forgetDir = onTerminate(() => rmSync(dir, { recursive: true, force: true }));
  const pool = new ChildPool(strategy.name, readers, true);
  const files: RunFiles = { dbPath: join(dir, 'index.db'), dir };
  try {
    const owner = await pool.ready();
    const readerSides = [];
    for (let slot = 0; slot < readers; slot++) readerSides.push(await pool.reader(slot, files));
    const world = await executeRun(
      {
        strategy,
        embedder: createDefaultEmbedder(),
        owner,
        dir,
        readers: readerSides,
        ...(pool.intruder === undefined ? {} : { intruder: pool.intruder }),
        stepDeadlineMs: DEFAULTS.stepDeadlineS * 1000,
        ...(options.faults === true ? { faults: faultControl(pool, files) } : {}),
      },
      commands,
    );
    return world.history.steps;
  } catch (error) {
    throw error instanceof RunFailure ? error.cause : error;
  } finally {
    await pool.stopAll();
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  }
}
