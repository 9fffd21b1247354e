import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { messageOf } from '../index/duckdb-errors.js';
import { createDefaultEmbedder, type Embedder } from '../index/embedder.js';
import { OwnerClient } from '../owner/owner-client.js';
import { onTerminate } from '../process/cleanup.js';
import { getStrategy } from '../strategies/registry.js';
import type { Strategy } from '../strategies/strategy.js';
import { stressCommands } from './commands/index.js';
import type { StepEvent } from './history.js';
import { initialModel, type StressModel } from './model.js';
import { encodeReplayToken } from './replay-token.js';
import { type Counterexample, formatSteps, type StressSummary, toReportStep } from './report.js';
import type { StressSettings } from './settings.js';
import { type OwnerHandle, StressWorld } from './world.js';

export interface RunOptions {
  /** Called after each completed run (fast-check run, shrinking runs included). */
  readonly onRun?: (run: number) => void;
  /** Where a failing run's directory is kept; default: inside the temp dir (reported). */
  readonly keepFailures?: boolean;
}

/** Shell-safe replay command for a token (tokens are base64url, so no quoting is needed). */
export function replayCommandFor(token: string): string {
  return `npx embecode-stress replay ${token}`;
}

const REPLAY_PATH = /\/\*replayPath=("(?:[^"\\]|\\.)*")\*\//;

/**
 * Runs the stress property for one strategy: fast-check generates command sequences, each run
 * drives a real owner child and a real reader on a fresh index file, and any failure is shrunk.
 * With `settings.path` (a replay) it runs exactly that counterexample once, without shrinking.
 *
 * One owner child serves every run of a call (each run opens a new file in it): starting a
 * process per run would cost more than the work under test. A child that dies is replaced.
 */
export async function runStress(settings: StressSettings, options: RunOptions = {}): Promise<StressSummary> {
  const started = performance.now();
  const strategy = getStrategy(settings.strategy);
  const embedder = createDefaultEmbedder();
  const base = mkdtempSync(join(tmpdir(), `embecode-stress-${strategy.name}-`));
  let keepBase = false;
  const forgetBase = onTerminate(() => rmSync(base, { recursive: true, force: true }));
  let owner: OwnerClient | undefined;
  const stopOwner = async () => {
    await owner?.stop().catch(() => undefined);
    owner = undefined;
  };

  let runs = 0;
  let firstFailureLength: number | undefined;
  let lastFailure: { steps: readonly StepEvent[]; dir: string; stderr: string } | undefined;

  const property = fc.asyncProperty(
    fc.commands(stressCommands(), {
      maxCommands: settings.maxCommands,
      ...(settings.replayPath === undefined ? {} : { replayPath: settings.replayPath }),
    }),
    async (commands) => {
      runs++;
      const dir = join(base, `run-${runs}`);
      mkdirSync(dir);
      if (owner === undefined || !owner.alive) owner = await OwnerClient.start(strategy.name);
      let world: StressWorld | undefined;
      let failed = true;
      try {
        world = await executeRun({ strategy, embedder, owner, dir }, commands);
        failed = false;
      } catch (error) {
        world = error instanceof RunFailure ? error.world : undefined;
        throw error instanceof RunFailure ? error.cause : error;
      } finally {
        if (failed && world !== undefined) {
          firstFailureLength ??= world.history.steps.length;
          if (lastFailure !== undefined) rmSync(lastFailure.dir, { recursive: true, force: true });
          lastFailure = { steps: world.history.steps, dir, stderr: owner.stderr };
        } else {
          rmSync(dir, { recursive: true, force: true });
        }
        options.onRun?.(runs);
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
    const elapsedMs = Math.round(performance.now() - started);
    const completed = details.failed ? runs : details.numRuns;
    if (!details.failed) {
      return {
        strategy: strategy.name,
        status: 'passed',
        runs: completed,
        seed: settings.seed,
        elapsedMs,
        ...(details.interrupted ? { interrupted: true } : {}),
      };
    }
    const error = details.errorInstance;
    if (error instanceof SetupError || lastFailure === undefined) {
      return {
        strategy: strategy.name,
        status: 'error',
        runs: completed,
        seed: settings.seed,
        elapsedMs,
        reason: messageOf(error ?? 'no failing run was recorded'),
      };
    }
    keepBase = options.keepFailures !== false;
    const counterexample = describeFailure(strategy, settings, details, lastFailure, firstFailureLength);
    if (keepBase) writeArtifact(lastFailure.dir, counterexample, lastFailure.steps, lastFailure.stderr);
    return {
      strategy: strategy.name,
      status: 'failed',
      runs,
      seed: settings.seed,
      elapsedMs,
      counterexample: keepBase ? { ...counterexample, artifact: lastFailure.dir } : counterexample,
    };
  } finally {
    await stopOwner();
    if (!keepBase) rmSync(base, { recursive: true, force: true });
    forgetBase();
  }
}

export interface RunContext {
  readonly strategy: Strategy;
  readonly embedder: Embedder;
  readonly owner: OwnerHandle;
  /** A fresh directory for this run's index file and the strategy's own files. */
  readonly dir: string;
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
  const reader = strategy.createReader({ dbPath, workDir: dir, embedder });
  const world = new StressWorld(strategy, owner, reader, embedder);
  try {
    await fc.asyncModelRun(
      () => ({ model: initialModel(strategy.readerNeedsOwner === true), real: world }),
      commands,
    );
    return world;
  } catch (error) {
    throw new RunFailure(world, error);
  } finally {
    await reader.close().catch(() => undefined);
    await owner.request('release').catch(() => undefined);
  }
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
  failure: { steps: readonly StepEvent[] },
  firstFailureLength: number | undefined,
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
  const steps = failure.steps.map(toReportStep);
  return {
    steps,
    originalLength: Math.max(firstFailureLength ?? steps.length, steps.length),
    shrinks: details.numShrinks,
    error: messageOf(details.errorInstance),
    replay: token,
    replayCommand: replayCommandFor(token),
  };
}

function writeArtifact(
  dir: string,
  counterexample: Counterexample,
  history: readonly StepEvent[],
  stderr: string,
): void {
  writeFileSync(join(dir, 'replay-token.txt'), `${counterexample.replay}\n`);
  writeFileSync(
    join(dir, 'trace.txt'),
    `${formatSteps(counterexample.steps)}\nerror: ${counterexample.error}\n`,
  );
  writeFileSync(join(dir, 'history.jsonl'), `${history.map((e) => JSON.stringify(e)).join('\n')}\n`);
  writeFileSync(join(dir, 'owner-stderr.txt'), stderr);
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
  const owner = await OwnerClient.start(strategy.name);
  try {
    const world = await executeRun({ strategy, embedder, owner, dir }, commands);
    return world.history.steps;
  } catch (error) {
    throw error instanceof RunFailure ? error.cause : error;
  } finally {
    await owner.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
