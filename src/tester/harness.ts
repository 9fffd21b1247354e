import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { RemoteError, usageError } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
import { createDefaultEmbedder, type Embedder } from '../index/embedder.js';
import { OwnerClient } from '../owner/owner-client.js';
import { onTerminate } from '../process/cleanup.js';
import { ProtocolClient } from '../process/protocol-client.js';
import { getStrategy } from '../strategies/registry.js';
import type { ReaderSide, Strategy } from '../strategies/strategy.js';
import { DEFAULT_ARTIFACTS_DIR, writeFailureArtifact } from './artifacts.js';
import { stressCommands } from './commands/index.js';
import type { StepEvent } from './history.js';
import { initialModel, type StressModel } from './model.js';
import { RemoteReader } from './remote-reader.js';
import { encodeReplayToken } from './replay-token.js';
import { type Counterexample, countFaults, NO_FAULTS, type StressSummary, toReportStep } from './report.js';
import type { StressSettings } from './settings.js';
import { collectVersions } from './versions.js';
import { type FaultControl, type OwnerHandle, StepFailure, StressWorld } from './world.js';

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

const REPLAY_PATH = /\/\*replayPath=("(?:[^"\\]|\\.)*")\*\//;

interface FailedRun {
  readonly steps: readonly StepEvent[];
  readonly stderr: string;
  /** The step that failed the run, when the failure names one. */
  readonly failingStep?: number;
}

/**
 * Runs the stress property for one strategy: fast-check generates command sequences, each run
 * drives a real owner child and a real reader on a fresh index file, and any failure is shrunk.
 * With `settings.path` (a replay) it runs exactly that counterexample once, without shrinking.
 *
 * One owner child serves every run of a call (each run opens a new file in it): starting a
 * process per run would cost more than the work under test. A child that dies is replaced.
 * Every run's directory is deleted when the run ends; a failure is kept as an artifact instead.
 */
export async function runStress(settings: StressSettings, options: RunOptions = {}): Promise<StressSummary> {
  const started = performance.now();
  const strategy = getStrategy(settings.strategy);
  const embedder = createDefaultEmbedder();
  const base = mkdtempSync(join(tmpdir(), `embecode-stress-${strategy.name}-`));
  const forgetBase = onTerminate(() => rmSync(base, { recursive: true, force: true }));
  let owner: OwnerClient | undefined;
  // With faults the reader lives in a child of its own, so the nemesis can SIGKILL it.
  let readerChild: ProtocolClient | undefined;
  const faults = settings.faults === true;

  let runs = 0;
  let firstFailure: FailedRun | undefined;
  let lastFailure: FailedRun | undefined;
  let shrinkStep = 0;
  let faultCounts = NO_FAULTS;
  let runStderr = '';

  const property = fc.asyncProperty(
    fc.commands(stressCommands({ faults }), {
      maxCommands: settings.maxCommands,
      ...(settings.replayPath === undefined ? {} : { replayPath: settings.replayPath }),
    }),
    async (commands) => {
      runs++;
      if (firstFailure !== undefined) shrinkStep++;
      const dir = join(base, `run-${runs}`);
      mkdirSync(dir);
      try {
        // A run's stderr record starts with its first owner; owners a fault replaces are kept too.
        runStderr = '';
        if (owner === undefined || !owner.alive) owner = await OwnerClient.start(strategy.name);
        const dbPath = join(dir, 'index.db');
        const startReader = async (): Promise<RemoteReader> => {
          if (readerChild === undefined || !readerChild.alive) {
            readerChild = await ProtocolClient.start('stress-reader', strategy.name);
          }
          const reader = new RemoteReader(readerChild);
          await reader.attach(dbPath, dir);
          return reader;
        };
        const control: FaultControl = {
          killOwner: async () => owner?.kill(),
          restartOwner: async () => {
            runStderr += stderrOf(owner);
            owner = await OwnerClient.start(strategy.name);
            const opened = await owner.request('open', { db: dbPath, dir });
            if (!opened.ok) throw new RemoteError(opened.error, opened.kind);
            return owner;
          },
          killReader: async () => readerChild?.kill(),
          restartReader: startReader,
        };
        const world = await executeRun(
          {
            strategy,
            embedder,
            owner,
            dir,
            ...(faults ? { reader: await startReader(), faults: control } : {}),
          },
          commands,
        );
        faultCounts = countFaults(faultCounts, world.history.steps);
      } catch (error) {
        if (!(error instanceof RunFailure)) throw error;
        faultCounts = countFaults(faultCounts, error.world.history.steps);
        const step = error.cause instanceof StepFailure ? error.cause.step.index : undefined;
        lastFailure = {
          steps: error.world.history.steps,
          stderr: runStderr + stderrOf(owner),
          ...(step === undefined ? {} : { failingStep: step }),
        };
        firstFailure ??= lastFailure;
        throw error.cause;
      } finally {
        rmSync(dir, { recursive: true, force: true });
        options.onProgress?.({
          strategy: strategy.name,
          run: runs,
          runs: settings.runs,
          ...(firstFailure === undefined ? {} : { shrinkStep }),
        });
      }
    },
  );

  try {
    const details = await fc.check(property, {
      numRuns: settings.runs,
      seed: settings.seed,
      ...(settings.path === undefined ? {} : { path: settings.path, endOnFailure: true }),
      ...(settings.timeLimitS === undefined
        ? {}
        : { interruptAfterTimeLimit: settings.timeLimitS * 1000, markInterruptAsFailure: false }),
    });
    const common = { strategy: strategy.name, seed: settings.seed };
    const elapsed = () => Math.round(performance.now() - started);
    if (!details.failed) {
      return {
        ...common,
        status: 'passed',
        runs: details.numRuns,
        elapsedMs: elapsed(),
        ...(details.interrupted ? { interrupted: true } : {}),
        ...(faults ? { faultsInjected: faultCounts } : {}),
      };
    }
    const error = details.errorInstance;
    if (error instanceof SetupError || lastFailure === undefined || firstFailure === undefined) {
      return {
        ...common,
        status: 'error',
        runs,
        elapsedMs: elapsed(),
        reason: messageOf(error ?? 'no failing run was recorded'),
      };
    }
    const counterexample = describeFailure(strategy, settings, details, lastFailure, firstFailure);
    const root = options.artifacts ?? artifactsRootFromEnv();
    const artifact =
      root === false
        ? undefined
        : writeFailureArtifact(root, {
            strategy: strategy.name,
            seed: settings.seed,
            counterexample,
            original: firstFailure.steps,
            minimal: lastFailure.steps,
            ownerStderr: lastFailure.stderr,
            failingStep: {
              ...(firstFailure.failingStep === undefined ? {} : { original: firstFailure.failingStep }),
              ...(lastFailure.failingStep === undefined ? {} : { minimal: lastFailure.failingStep }),
            },
            versions: await collectVersions(),
          });
    return {
      ...common,
      status: 'failed',
      runs,
      elapsedMs: elapsed(),
      counterexample: artifact === undefined ? counterexample : { ...counterexample, artifact },
    };
  } finally {
    await owner?.stop().catch(() => undefined);
    await readerChild?.stop().catch(() => undefined);
    rmSync(base, { recursive: true, force: true });
    forgetBase();
  }
}

export interface RunContext {
  readonly strategy: Strategy;
  readonly embedder: Embedder;
  readonly owner: OwnerHandle;
  /** A fresh directory for this run's index file and the strategy's own files. */
  readonly dir: string;
  /** The run's reader; default: the strategy's reader in this process. */
  readonly reader?: ReaderSide;
  /** Present when the run injects faults. */
  readonly faults?: FaultControl;
}

/** A run whose commands failed; carries the world so its history can be reported. */
class RunFailure extends Error {
  constructor(
    readonly world: StressWorld,
    override readonly cause: unknown,
  ) {
    super(messageOf(cause));
  }
}

/**
 * One run: the owner opens a new index in `dir`, the commands run against it with a fresh
 * reader, and both let go of the file afterwards (also when a command fails). The benchmark's
 * in-process floor calls this with an in-process owner, so both pay for exactly the same work.
 */
export async function executeRun(
  context: RunContext,
  commands: Iterable<fc.AsyncCommand<StressModel, StressWorld>>,
): Promise<StressWorld> {
  const { strategy, embedder, owner, dir } = context;
  const dbPath = join(dir, 'index.db');
  const opened = await owner.request('open', { db: dbPath, dir });
  if (!opened.ok) throw new SetupError(`owner ${owner.pid} could not open ${dbPath}: ${opened.error}`);
  const reader = context.reader ?? strategy.createReader({ dbPath, workDir: dir, embedder });
  const world = new StressWorld(strategy, owner, reader, embedder, context.faults);
  try {
    await fc.asyncModelRun(
      () => ({ model: initialModel(strategy.readerNeedsOwner === true), real: world }),
      commands,
    );
    return world;
  } catch (error) {
    throw new RunFailure(world, error);
  } finally {
    await world.reader.close().catch(() => undefined);
    await world.ownerHandle.request('release').catch(() => undefined);
  }
}

/** An owner's stderr under a header naming it, for the artifact's owner-stderr.txt. */
function stderrOf(owner: OwnerClient | undefined): string {
  return owner === undefined
    ? ''
    : `--- owner ${owner.pid} ---\n${owner.stderr}${owner.stderr.endsWith('\n') ? '' : '\n'}`;
}

/** STRESS_ARTIFACTS, or `.stress`; set but empty is a mistake worth a usage error. */
export function artifactsRootFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  const root = env.STRESS_ARTIFACTS;
  if (root === undefined) return DEFAULT_ARTIFACTS_DIR;
  if (root.trim() === '') throw usageError('STRESS_ARTIFACTS is set but empty; unset it or name a directory');
  return root;
}

/** A failure of the test set-up itself, not of the system under test: it is an error, not a counterexample. */
class SetupError extends Error {}

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
): Counterexample {
  const commands = String(details.counterexample?.[0] ?? '');
  const replayPathJson = REPLAY_PATH.exec(commands)?.[1];
  const replayPath = replayPathJson === undefined ? '' : (JSON.parse(replayPathJson) as string);
  const token = encodeReplayToken({
    ...settings,
    strategy: strategy.name,
    path: details.counterexamplePath ?? settings.path ?? '',
    replayPath,
  });
  const steps = minimal.steps.map(toReportStep);
  return {
    steps,
    originalLength: Math.max(original.steps.length, steps.length),
    shrinks: details.numShrinks,
    error: messageOf(details.errorInstance),
    replay: token,
    replayCommand: replayCommandFor(token),
  };
}

/**
 * Runs one fixed command sequence against a real owner child, outside fast-check: for regression
 * tests that keep a shrunk trace as code. Resolves with the history; rejects with the step's
 * failure (a StepFailure for lock conflicts and contract violations).
 */
export async function runSequence(
  strategyName: string,
  commands: Iterable<fc.AsyncCommand<StressModel, StressWorld>>,
): Promise<readonly StepEvent[]> {
  const strategy = getStrategy(strategyName);
  const embedder = createDefaultEmbedder();
  const dir = mkdtempSync(join(tmpdir(), `embecode-sequence-${strategy.name}-`));
  const forgetDir = onTerminate(() => rmSync(dir, { recursive: true, force: true }));
  const owner = await OwnerClient.start(strategy.name);
  try {
    const world = await executeRun({ strategy, embedder, owner, dir }, commands);
    return world.history.steps;
  } catch (error) {
    throw error instanceof RunFailure ? error.cause : error;
  } finally {
    await owner.stop();
    rmSync(dir, { recursive: true, force: true });
    forgetDir();
  }
}
