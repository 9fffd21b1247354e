import fc from 'fast-check';
import { usageError } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
import { getStrategy } from '../strategies/registry.js';
import { DEFAULT_ARTIFACTS_DIR, writeFailureArtifact } from './artifacts.js';
import { stressCommands } from './commands/index.js';
import {
  type CommandCodec,
  deserializeCommands,
  type StressCommand,
  serializeCommands,
  simplerVersions,
} from './commands/serialize.js';
import { type CommandMix, type CommandOptions, describeMix, sameMix, swarmMix } from './commands/swarm.js';
import { CLASSIFY_DEFAULTS, classifyBudgetMs, classifyFailure, type FailureClass } from './failure-class.js';
import { type FailedRun, type FailureLog, replayPathOf } from './failure-record.js';
import type { StepEvent } from './history.js';
import { describeMinimality, MINIMIZE_DEFAULTS, minimizeBudgetMs, oneMinimal } from './minimize.js';
import { profileEnabled, profileNow } from './process-profile.js';
import {
  goalsFor,
  NO_REACH,
  type Reach,
  type ReachGoal,
  reachJudged,
  unreached,
  watchedFor,
} from './reach.js';
import { encodeReplayToken } from './replay-token.js';
import { type Counterexample, type FaultCounts, type StressSummary, toReportStep } from './report.js';
import { RunFailure, SetupError } from './run.js';
import { type AttemptRecord, RunDriver } from './run-driver.js';
import { type RunHistory, runLine } from './run-history.js';
import { serveTarget } from './serve/target.js';
import { DEFAULTS, parseCount, type StressSettings } from './settings.js';
import { collectVersions } from './versions.js';

export { executeRun, type RunContext } from './run.js';

/** What the harness reports while it works (for a progress line). */
export interface ProgressEvent {
  readonly strategy: string;
  readonly seed: number;
  /** Runs executed so far, shrinking runs included. */
  readonly run: number;
  /** Runs the property asked for (this invocation's: `--from-run` skips some). */
  readonly runs: number;
  /** Generated runs done so far (shrink runs not counted). */
  readonly generated: number;
  /** Runs `--from-run` skipped: run numbers under this seed are `skipped + 1` onwards. */
  readonly skipped: number;
  /** What the runs exercised so far. */
  readonly reach: Reach;
  /** After the first failure every run is a shrink attempt: how many so far. */
  readonly shrinkStep?: number;
  /** The smallest failure so far, once one was found (for a summary after an interrupt). */
  readonly failure?: FailedRun<unknown>;
}

export interface RunOptions {
  readonly onProgress?: (event: ProgressEvent) => void;
  /**
   * Where a failure's artifact directory goes (default `.stress/` under the working directory,
   * or STRESS_ARTIFACTS); `false` writes none (replays, and the suite's expected failures).
   */
  readonly artifacts?: string | false;
  /** Where a line per generated run goes (`--history`); the caller opens and closes it. */
  readonly history?: RunHistory;
}

/** Shrink runs fast-check may spend before the minimizer takes over. */
const SHRINK_BUDGET = 120;
/** ...and at most this long (ms): a failure that costs a lock bound or a deadline per run shrinks slowly. */
const SHRINK_TIME_MS = 45_000;

/** Shell-safe replay command for a token (tokens are base64url, so no quoting is needed). */
export function replayCommandFor(token: string): string {
  return `npx embecode-stress replay ${token}`;
}

/**
 * Runs the stress property for one strategy: fast-check generates command sequences, each run
 * drives the real owner child, the reader children and the intruder on a fresh index file, and
 * any failure is shrunk. With `settings.path` (a replay) it runs exactly that counterexample once.
 * Every run's directory is deleted when the run ends; a failure is kept as an artifact instead.
 */
export async function runStress(settings: StressSettings, options: RunOptions = {}): Promise<StressSummary> {
  const tracker = new RunTracker(settings, options);
  const onRun = (name: string) => (run: number, failures: FailureLog<unknown>, attempt?: AttemptRecord) =>
    tracker.onRun(name, run, failures, attempt);
  if (settings.target === 'serve') {
    return runTarget(serveTarget(settings, onRun('serve')), settings, options, tracker);
  }
  return runTarget(strategyTarget(settings, onRun), settings, options, tracker);
}

/**
 * Counts generated runs apart from shrink runs, writes a history line per generated run, and
 * turns each run into a progress event (which a Ctrl-C summary is made from).
 */
class RunTracker {
  /** Runs `--from-run` skips: the check starts at run `skipped + 1` of its seed. */
  readonly skipped: number;
  generated = 0;
  /** True while fast-check generates runs (not while it, or the minimizer, shrinks). */
  generating = false;
  runStarted = performance.now();
  /** The run that failed first: runs after it only shrink the failure. */
  failedOnRun: number | undefined;
  /** The command mix of the run under way (a swarm run's), for its history line. */
  mix: CommandMix | undefined;
  reach: () => Reach = () => NO_REACH;

  constructor(
    private readonly settings: StressSettings,
    private readonly options: RunOptions,
  ) {
    // A resumed check (`--from-run K`) starts at run K of the same seed; a replay runs its own path.
    this.skipped = settings.path === undefined ? Math.max(0, (settings.fromRun ?? 1) - 1) : 0;
    if (this.skipped >= settings.runs) {
      throw usageError(`--from-run ${this.skipped + 1} is past the last run (--runs ${settings.runs})`);
    }
  }

  onRun(name: string, run: number, failures: FailureLog<unknown>, attempt?: AttemptRecord): void {
    if (failures.failed) this.failedOnRun ??= run;
    if (this.generating && attempt !== undefined) {
      this.generated++;
      const ms = performance.now() - this.runStarted;
      this.options.history?.write(
        runLine(this.settings, this.skipped + this.generated, attempt, ms, this.mix),
      );
    } else if (this.generating) {
      this.generated++;
    }
    this.options.onProgress?.({
      strategy: name,
      seed: this.settings.seed,
      run,
      runs: this.settings.runs - this.skipped,
      generated: this.generated,
      skipped: this.skipped,
      reach: this.reach(),
      ...(failures.failed ? { shrinkStep: failures.shrinkAttempts } : {}),
      ...(failures.minimal === undefined ? {} : { failure: failures.minimal }),
    });
  }
}

/** The strategy target: an owner child, reader children and the intruder on one index file. */
function strategyTarget(
  settings: StressSettings,
  onRun: (name: string) => (run: number, failures: FailureLog<unknown>) => void,
): StressTarget<StressCommand> {
  const strategy = getStrategy(settings.strategy);
  const faults = settings.faults === true;
  const readers = settings.readers ?? DEFAULTS.readers;
  const driver = new RunDriver(strategy, {
    readers,
    stepDeadlineMs: (settings.stepDeadlineS ?? DEFAULTS.stepDeadlineS) * 1000,
    faults,
    onRun: onRun(strategy.name),
  });
  const options: CommandOptions = {
    faults,
    readers,
    intruder: true,
    ...(settings.drop === undefined ? {} : { drop: settings.drop }),
  };
  return {
    name: strategy.name,
    driver,
    commands: stressCommands(options),
    swarm: { mixes: swarmMix(options), commandsFor: (mix) => stressCommands(options, mix) },
    codec: { serialize: serializeCommands, deserialize: deserializeCommands },
    goals: goalsFor(strategy.name, options),
    watched: watchedFor(strategy.name),
    failureCause: (error) => (error instanceof RunFailure ? { cause: error.cause } : undefined),
  };
}

/**
 * What the harness needs of a target: the commands to generate, a driver that runs them against
 * real processes, how a replay token carries them, and what a passing suite must have reached.
 */
export interface StressTarget<C extends fc.AsyncCommand<object, object>> {
  /** The name summaries, progress and artifacts show (the strategy, or `serve`). */
  readonly name: string;
  readonly driver: TargetDriver<C>;
  /** The commands every run draws from without swarm (`--no-swarm`, or a target without a `swarm`). */
  readonly commands: fc.Arbitrary<C>[];
  /** Swarm testing: each run draws a command mix first, then its commands from that mix's list. */
  readonly swarm?: {
    readonly mixes: fc.Arbitrary<CommandMix>;
    commandsFor(mix: CommandMix): fc.Arbitrary<C>[];
  };
  readonly codec: CommandCodec<C>;
  readonly goals: readonly ReachGoal[];
  /** Goals a passing suite reports when it missed them, without failing (reach.ts WATCHED_GOALS). */
  readonly watched?: readonly ReachGoal[];
  /** The cause inside the error the driver's `attempt` rejects with for a failing run, else undefined. */
  failureCause(error: unknown): { cause: unknown } | undefined;
}

export interface TargetDriver<C> {
  readonly failures: FailureLog<C>;
  readonly runs: number;
  readonly reach: Reach;
  readonly faultCounts: FaultCounts;
  /** The temp directory the runs work in, which error messages may name; removed by `close`. */
  readonly runsDir?: string;
  attempt(commands: Iterable<C>): Promise<unknown>;
  stillFails(commands: readonly C[]): Promise<boolean>;
  close(): Promise<void>;
}

async function runTarget<C extends fc.AsyncCommand<object, object>>(
  target: StressTarget<C>,
  settings: StressSettings,
  options: RunOptions,
  tracker: RunTracker,
): Promise<StressSummary> {
  const started = performance.now();
  tracker.reach = () => target.driver.reach;
  const { skipped } = tracker;
  const faults = settings.faults === true;
  const { driver } = target;
  const failures = driver.failures;
  let shrunkFurther = 0;

  const sequences = (commands: fc.Arbitrary<C>[]) =>
    fc.commands(commands, {
      maxCommands: settings.maxCommands,
      // Longer sequences than fast-check's default size: races need a few writes to race.
      size: 'max',
      ...(settings.replayPath === undefined ? {} : { replayPath: settings.replayPath }),
    });
  // Swarm: each run draws its mix first, never shrunk (shrinking works on the commands of the mix
  // that failed). Without swarm the runs come from exactly the list there was before swarm, so a
  // fast-check path from an older token still leads to the same commands.
  const swarm = settings.swarm === false ? undefined : target.swarm;
  const generated: fc.Arbitrary<
    readonly [CommandMix | undefined, Iterable<fc.AsyncCommand<object, object>>]
  > =
    swarm === undefined
      ? sequences(target.commands).map((commands) => [undefined, commands] as const)
      : fc
          .noShrink(swarm.mixes)
          .chain((mix) => sequences(swarm.commandsFor(mix)).map((commands) => [mix, commands] as const));
  // A path replay of a swarm token must draw the mix the token names, else its path leads to other commands.
  const expectedMix = settings.path !== undefined && swarm !== undefined ? settings.mix : undefined;
  let failedMix: CommandMix | undefined = settings.commands === undefined ? undefined : settings.mix;

  const property = fc.asyncProperty(generated, async ([mix, commands]) => {
    if (expectedMix !== undefined && !sameMix(mix, expectedMix)) {
      throw new SetupError(
        `this replay token's command mix (${describeMix(expectedMix)}) is not the one this embecode-stress draws for seed ${settings.seed} and path ${settings.path} (${mix === undefined ? 'none' : describeMix(mix)}): the generator changed since the token was made, so the path leads to other commands; replay the token's commands (tokens made since 1-minimal traces carry them) or rerun the seed with \`embecode-stress run --strategy ${settings.strategy} --seed ${settings.seed}\``,
      );
    }
    tracker.mix = mix;
    if (failures.failed) failures.shrinkAttempts++;
    tracker.generating = !failures.failed;
    tracker.runStarted = performance.now();
    // fast-check's command shrinking can take hundreds of runs against real processes; past a
    // budget every candidate passes, which ends it, and the 1-minimal pass below finishes the job.
    if (failures.shrinkAttempts > SHRINK_BUDGET) return;
    if (failures.failedAt !== undefined && performance.now() - failures.failedAt > SHRINK_TIME_MS) return;
    // fast-check's own iterable (commandsThatRan reads it), its elements typed as the target's.
    await driver.attempt(commands as Iterable<C>).catch((error: unknown) => {
      failedMix ??= mix;
      throw target.failureCause(error)?.cause ?? error;
    });
  });

  /** A replay of a token that carries its commands: exactly those, once, no generation. */
  const replayCommands = async (commands: readonly C[]) => {
    try {
      await driver.attempt(commands);
      return { failed: false as const };
    } catch (error) {
      const failure = target.failureCause(error);
      if (failure === undefined) throw error;
      return { failed: true as const, error: failure.cause };
    }
  };

  try {
    const details =
      settings.commands === undefined
        ? await fc.check(property, {
            numRuns: settings.runs - skipped,
            seed: settings.seed,
            ...(settings.path === undefined ? {} : { path: settings.path, endOnFailure: true }),
            // fast-check's path `N` starts at its N-th value and shrinks as usual: the same runs
            // a full check of this seed does from run N + 1 on.
            ...(skipped === 0 ? {} : { path: String(skipped) }),
            ...(settings.timeLimitS === undefined
              ? {}
              : { interruptAfterTimeLimit: settings.timeLimitS * 1000, markInterruptAsFailure: false }),
          })
        : await replayAsDetails(await replayCommands(target.codec.deserialize(settings.commands)));
    tracker.generating = false;
    // fast-check's shrinking can keep steps that do not matter: remove each one that can go.
    let minimality: string | undefined;
    let failureClass: FailureClass | undefined;
    let judgedMs: { minimize: number; classify: number } | undefined;
    if (details.failed && settings.commands === undefined && failures.minimal?.commands !== undefined) {
      // 0 turns the pass off (to measure what it costs, or to get fast-check's trace as it is).
      const minimizeReplays = knob('STRESS_MINIMIZE_REPLAYS', MINIMIZE_DEFAULTS.replays);
      let final: readonly C[] = failures.minimal.commands;
      const minimizeStarted = performance.now();
      if (minimizeReplays > 0) {
        const reduced = await oneMinimal(
          final,
          (candidate) => driver.stillFails(candidate),
          {
            ...MINIMIZE_DEFAULTS,
            replays: minimizeReplays,
            timeBudgetMs: minimizeBudgetMs(performance.now() - started),
          },
          (command: C) => simplerVersions(command),
        );
        if (process.env.EMBECODE_DEBUG)
          process.stderr.write(
            `minimize: ${JSON.stringify({ ...reduced, commands: reduced.commands.map(String) })}\n`,
          );
        shrunkFurther = reduced.removed;
        minimality = describeMinimality(reduced, String);
        final = reduced.commands;
      }
      // Race or logic: replay the final trace a few times, within a bound of the time spent so far.
      // A replay of a token counts its own reproductions instead.
      const classifyStarted = performance.now();
      const replays = knob('STRESS_CLASSIFY_REPLAYS', CLASSIFY_DEFAULTS.replays);
      if (replays > 0 && settings.path === undefined) {
        failureClass = await classifyFailure(() => driver.stillFails(final), {
          replays,
          timeBudgetMs: classifyBudgetMs(performance.now() - started),
        });
      }
      judgedMs = {
        minimize: Math.round(classifyStarted - minimizeStarted),
        classify: Math.round(performance.now() - classifyStarted),
      };
    }
    const common = { strategy: target.name, seed: settings.seed };
    const elapsed = () => Math.round(performance.now() - started);
    if (!details.failed) {
      // A passing suite that never reached what it exists to test proves nothing: it fails.
      const isSuite = settings.commands === undefined && settings.path === undefined;
      const goalsJudged = isSuite && reachJudged(settings, details.numRuns);
      const missed = goalsJudged ? unreached(driver.reach, target.goals) : [];
      const missedWatched = goalsJudged ? unreached(driver.reach, target.watched ?? []) : [];
      return {
        ...common,
        status: missed.length === 0 ? 'passed' : 'failed',
        runs: details.numRuns,
        elapsedMs: elapsed(),
        reach: driver.reach,
        ...(missed.length === 0
          ? {}
          : { unreached: missed, reason: `never reached: ${missed.join('; ')} (seed ${settings.seed})` }),
        ...(missedWatched.length === 0 ? {} : { missedWatched }),
        ...(details.interrupted ? { interrupted: true } : {}),
        ...(faults ? { faultsInjected: driver.faultCounts } : {}),
        // Taken before `close` stops the children: their CPU and waits over the whole check.
        ...(profileEnabled() ? { profiles: [profileNow(elapsed(), details.numRuns)] } : {}),
      };
    }
    const error = details.errorInstance;
    const { original, minimal } = failures;
    if (error instanceof SetupError || original === undefined || minimal === undefined) {
      return {
        ...common,
        status: 'error',
        runs: driver.runs,
        elapsedMs: elapsed(),
        reason: messageOf(error ?? 'no failing run was recorded'),
      };
    }
    const counterexample = {
      ...describeFailure(
        target,
        { ...settings, ...(failedMix === undefined ? {} : { mix: failedMix }) },
        details,
        minimal,
        original,
        shrunkFurther,
      ),
      ...(failedMix === undefined ? {} : { mix: describeMix(failedMix) }),
      ...(driver.runsDir === undefined ? {} : { removedDir: driver.runsDir }),
    };
    const judged = {
      ...counterexample,
      ...(minimality === undefined ? {} : { minimality }),
      ...(failureClass === undefined ? {} : { failureClass }),
      ...(judgedMs === undefined ? {} : { judgedMs }),
    };
    const root = options.artifacts ?? artifactsRootFromEnv();
    const artifact =
      root === false
        ? undefined
        : writeFailureArtifact(root, {
            strategy: target.name,
            seed: settings.seed,
            counterexample: judged,
            original: original.steps,
            minimal: minimal.steps,
            ownerStderr: minimal.stderr,
            ...(original.actors === undefined ? {} : { originalActors: original.actors }),
            ...(minimal.actors === undefined ? {} : { minimalActors: minimal.actors }),
            failingStep: {
              ...(original.failingStep === undefined ? {} : { original: original.failingStep }),
              ...(minimal.failingStep === undefined ? {} : { minimal: minimal.failingStep }),
            },
            versions: await collectVersions(),
          });
    const generated = tracker.failedOnRun ?? driver.runs;
    return {
      ...common,
      status: 'failed',
      runs: generated,
      shrinkRuns: driver.runs - generated,
      elapsedMs: elapsed(),
      reach: driver.reach,
      counterexample: artifact === undefined ? judged : { ...judged, artifact },
    };
  } finally {
    await driver.close();
  }
}

/** A count from the environment (replays of the minimizer and the race check), or its default. */
function knob(name: string, fallback: number): number {
  const raw = process.env[name];
  return raw === undefined ? fallback : parseCount(raw, name, { allowZero: true });
}

/** The commands of a counterexample value `[mix, commands]` (the mix undefined without swarm). */
function commandsOf(value: unknown): unknown {
  return Array.isArray(value) ? value[1] : value;
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

function describeFailure<C extends fc.AsyncCommand<object, object>>(
  target: StressTarget<C>,
  settings: StressSettings,
  details: {
    readonly counterexample: readonly unknown[] | null;
    readonly counterexamplePath: string | null;
    readonly numShrinks: number;
    readonly errorInstance: unknown;
  },
  minimal: FailedRun<C>,
  original: FailedRun<C>,
  shrunkFurther: number,
): Counterexample {
  const token = encodeReplayToken({
    ...settings,
    path: details.counterexamplePath ?? settings.path ?? '',
    replayPath: replayPathOf(String(commandsOf(details.counterexample?.[0]) ?? '')),
    // The commands themselves, so a replay runs exactly the minimal sequence.
    ...(minimal.commands === undefined ? {} : { commands: target.codec.serialize(minimal.commands) }),
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
  commands: Iterable<StressCommand>,
  options: { readers?: number; faults?: boolean } = {},
): Promise<readonly StepEvent[]> {
  const driver = new RunDriver(getStrategy(strategyName), {
    readers: options.readers ?? DEFAULTS.readers,
    stepDeadlineMs: DEFAULTS.stepDeadlineS * 1000,
    faults: options.faults === true,
  });
  try {
    return await driver.attempt(commands);
  } catch (error) {
    throw error instanceof RunFailure ? error.cause : error;
  } finally {
    await driver.close();
  }
}
