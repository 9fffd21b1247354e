#!/usr/bin/env node
import { existsSync, statSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { usageError } from '../errors.js';
import { strategyNames } from '../strategies/registry.js';
import { DEFAULT_ARTIFACTS_DIR, readArtifactToken } from '../tester/artifacts.js';
import { parseKinds } from '../tester/commands/swarm.js';
import { type ProgressEvent, runStress } from '../tester/harness.js';
import { interruptedSummary, interruptedWorkersSummary, repeatCommandFor } from '../tester/interrupted.js';
import { createProgressReporter } from '../tester/progress.js';
import { DEFAULT_REPLAY_TIMES, replayCounterexample } from '../tester/replay.js';
import { decodeReplayToken } from '../tester/replay-token.js';
import { formatSummary, type StressSummary } from '../tester/report.js';
import { checkHistoryDir, RunHistory, readRunLine, replaySettingsOf } from '../tester/run-history.js';
import {
  checkName,
  DEFAULTS,
  MAX_READERS,
  parseCount,
  parseReaders,
  parseSeconds,
  parseSeed,
  type StressSettings,
  settingsFromEnv,
} from '../tester/settings.js';
import { parseShard, runWorkers, shardSettings } from '../tester/workers.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from './exit.js';

/** Exit 0: the contract held; 1: a counterexample; 2: usage or set-up error. */
function exitCodeOf(summary: StressSummary): number {
  if (summary.status === 'passed') return EXIT_OK;
  return summary.status === 'failed' ? EXIT_FAILURE : EXIT_USAGE;
}

function print(summary: StressSummary, json: boolean): number {
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else (summary.status === 'passed' ? process.stdout : process.stderr).write(`${formatSummary(summary)}\n`);
  return exitCodeOf(summary);
}

interface RunFlags {
  strategy?: string;
  target?: 'strategy' | 'serve';
  workers?: string;
  shard?: string;
  artifacts?: string;
  faults?: boolean;
  runs?: string;
  seed?: string;
  maxCommands?: string;
  timeLimit?: string;
  readers?: string;
  stepDeadline?: string;
  fromRun?: string;
  history?: string;
  /** commander's `--no-swarm`: false when given. */
  swarm?: boolean;
  dropKinds?: string;
  json?: boolean;
}

/** Flags win over the STRESS_* environment, which wins over the defaults. */
export function settingsFromFlags(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): StressSettings {
  const serve = flags.target === 'serve';
  // serve serves with ipc only (src/serve/transport.ts says why not the others).
  if (serve && flags.strategy !== undefined && flags.strategy !== 'ipc')
    throw usageError(
      `--target serve runs embecode serve, which serves with ipc only; drop --strategy ${flags.strategy}`,
    );
  if (!serve && flags.strategy === undefined)
    throw usageError(`--strategy is required (one of ${strategyNames().join(', ')}), or use --target serve`);
  const base = settingsFromEnv(flags.strategy ?? 'ipc', env);
  const drop = flags.dropKinds === undefined ? base.drop : parseKinds(flags.dropKinds, '--drop-kinds');
  if (serve && drop !== undefined) {
    throw usageError(
      `--target serve has its own commands; ${flags.dropKinds === undefined ? 'STRESS_DROP_KINDS' : '--drop-kinds'} leaves out strategy command kinds only`,
    );
  }
  return {
    ...base,
    ...(serve ? { target: 'serve' as const } : {}),
    ...(flags.runs === undefined ? {} : { runs: parseCount(flags.runs, '--runs') }),
    ...(flags.seed === undefined ? {} : { seed: parseSeed(flags.seed, '--seed') }),
    ...(flags.maxCommands === undefined
      ? {}
      : { maxCommands: parseCount(flags.maxCommands, '--max-commands') }),
    ...(flags.timeLimit === undefined ? {} : { timeLimitS: parseSeconds(flags.timeLimit, '--time-limit') }),
    ...(flags.faults === true ? { faults: true } : {}),
    ...(flags.readers === undefined ? {} : { readers: parseReaders(flags.readers, '--readers') }),
    ...(flags.stepDeadline === undefined
      ? {}
      : { stepDeadlineS: parseSeconds(flags.stepDeadline, '--step-deadline') }),
    ...(flags.fromRun === undefined ? {} : { fromRun: parseCount(flags.fromRun, '--from-run') }),
    ...(flags.swarm === false ? { swarm: false } : {}),
    ...(drop === undefined ? {} : { drop }),
  };
}

/** A replay argument is a token, or a failure artifact directory holding one. */
export function readReplayArgument(argument: string): string {
  if (existsSync(argument) && statSync(argument).isDirectory()) return readArtifactToken(argument);
  return argument;
}

/** The signals that stop a check early with a summary: Ctrl-C, and what a parent or CI sends. */
const STOP_SIGNALS = ['SIGINT', 'SIGTERM'] as const;
/** How long worker processes get to report their share after an interrupt. */
const WORKER_REPORT_MS = 15_000;

/**
 * Ends this process by `signal` after its summary is out. The clean-up handlers (process/cleanup.ts)
 * run on the same signal, SIGKILL every child and remove the temp dirs, then re-raise it, so a
 * shell sees the usual status (130 for Ctrl-C).
 */
function endBy(signal: NodeJS.Signals, listener: (signal: NodeJS.Signals) => void): void {
  for (const s of STOP_SIGNALS) process.removeListener(s, listener);
  process.kill(process.pid, signal);
}

/** Runs in this process, or spread over worker processes; a shard first narrows runs and seed. */
async function run(flags: RunFlags): Promise<StressSummary> {
  const started = performance.now();
  let settings = settingsFromFlags(flags);
  if (flags.shard !== undefined) settings = shardSettings(settings, parseShard(flags.shard));
  const workers = flags.workers === undefined ? 1 : parseCount(flags.workers, '--workers');
  if (flags.artifacts?.trim() === '') throw usageError('--artifacts needs a directory');
  if (settings.fromRun !== undefined && workers > 1) {
    throw usageError('--from-run resumes one seed; it cannot be combined with --workers');
  }
  const historyDir = flags.history ?? process.env.STRESS_HISTORY;
  const historyFlag = flags.history === undefined ? 'STRESS_HISTORY' : '--history';
  const json = flags.json === true;
  const elapsed = () => Math.round(performance.now() - started);
  const report = (summary: StressSummary) => {
    if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else process.stderr.write(`${formatSummary(summary)}\n`);
  };
  if (workers > 1) {
    // Each worker writes its own history file into the directory; check it can before any starts.
    if (historyDir !== undefined) checkHistoryDir(historyDir, historyFlag);
    const env: Record<string, string> = {
      ...(flags.artifacts === undefined ? {} : { STRESS_ARTIFACTS: flags.artifacts }),
      ...(historyDir === undefined ? {} : { STRESS_HISTORY: historyDir }),
    };
    let stoppedBy: NodeJS.Signals | undefined;
    // Kept while the workers report: process/cleanup.ts SIGTERMs them and re-raises the signal,
    // which would end this process before their summaries are in.
    const onStop = (signal: NodeJS.Signals) => {
      if (stoppedBy !== undefined) return;
      stoppedBy = signal;
      setTimeout(() => {
        process.stderr.write(
          `embecode-stress: ${checkName(settings)}: interrupted by ${signal}; the workers did not report within ${WORKER_REPORT_MS / 1000} s (seed ${settings.seed})\nrepeat with: ${repeatCommandFor(settings, workers)}\n`,
        );
        endBy(signal, onStop);
      }, WORKER_REPORT_MS).unref();
    };
    for (const s of STOP_SIGNALS) process.on(s, onStop);
    const merged = await runWorkers(settings, workers, env);
    if (stoppedBy === undefined) {
      for (const s of STOP_SIGNALS) process.removeListener(s, onStop);
      return merged;
    }
    report(interruptedWorkersSummary(settings, { ...merged, elapsedMs: elapsed() }, workers, stoppedBy));
    endBy(stoppedBy, onStop);
    return new Promise<never>(() => undefined);
  }
  const history =
    historyDir === undefined
      ? undefined
      : RunHistory.open(historyDir, settings.strategy, settings.seed, historyFlag);
  const progress = json ? undefined : createProgressReporter();
  let last: ProgressEvent | undefined;
  // Ctrl-C: the summary so far, then the clean-up handlers end the children and this process.
  const onStop = (signal: NodeJS.Signals) => {
    progress?.done();
    report(interruptedSummary(settings, last, elapsed(), signal));
    history?.close();
    endBy(signal, onStop);
  };
  for (const s of STOP_SIGNALS) process.on(s, onStop);
  try {
    return await runStress(settings, {
      onProgress: (event) => {
        last = event;
        progress?.update(event);
      },
      ...(flags.artifacts === undefined ? {} : { artifacts: flags.artifacts }),
      ...(history === undefined ? {} : { history }),
    });
  } finally {
    for (const s of STOP_SIGNALS) process.removeListener(s, onStop);
    progress?.done();
    history?.close();
  }
}

/** Replays one line of a run history, or a token / artifact directory. */
function replaySettings(argument: string | undefined, flags: { history?: string; run?: string }) {
  if (flags.history === undefined) {
    if (flags.run !== undefined) throw usageError('--run needs --history FILE');
    if (argument === undefined)
      throw usageError('replay needs a token, a failure directory, or --history FILE --run K');
    return decodeReplayToken(readReplayArgument(argument));
  }
  if (argument !== undefined) throw usageError('replay takes a token or --history FILE --run K, not both');
  if (flags.run === undefined)
    throw usageError('--history FILE needs --run K (the run number of a line in it)');
  return replaySettingsOf(readRunLine(flags.history, parseCount(flags.run, '--run')));
}

async function main(argv: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = new Command('embecode-stress')
    .description('Property-based cross-process stress tester for embecode access strategies.')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  program
    .command('run')
    .description('generate command sequences and check the strategy contract')
    .addOption(
      new Option('--strategy <name>', 'access strategy (required for --target strategy)').choices(
        strategyNames(),
      ),
    )
    .addOption(
      new Option('--target <target>', 'what runs drive: strategy objects, or real embecode serve processes')
        .choices(['strategy', 'serve'])
        .default('strategy'),
    )
    .option('--runs <n>', `number of runs (env STRESS_RUNS, default ${DEFAULTS.runs})`)
    .option('--seed <n>', 'fast-check seed (env STRESS_SEED, default a random seed, printed in the summary)')
    .option(
      '--max-commands <k>',
      `longest command sequence (env STRESS_MAX_COMMANDS, default ${DEFAULTS.maxCommands})`,
    )
    .option(
      '--time-limit <s>',
      'stop starting runs after S seconds (env STRESS_TIME_LIMIT_S, default no limit)',
    )
    .option(
      '--readers <n>',
      `reader processes per run, 1 to ${MAX_READERS} (env STRESS_READERS, default ${DEFAULTS.readers})`,
    )
    .option(
      '--step-deadline <s>',
      `a step taking longer fails the run as a hang (env STRESS_STEP_DEADLINE_S, default ${DEFAULTS.stepDeadlineS})`,
    )
    .option(
      '--faults',
      'inject faults: SIGKILL owner (also mid-write) and reader, restart (env STRESS_FAULTS=1, default off)',
    )
    .option(
      '--no-swarm',
      'every run uses every command kind at its default weight (env STRESS_SWARM=0; default each run draws its own mix)',
    )
    .option(
      '--drop-kinds <kinds>',
      `leave these command kinds out, comma-separated (env STRESS_DROP_KINDS; default none): the suite must then fail 'never reached'`,
    )
    .option('--workers <n>', 'run in N parallel worker processes, each with its own seed (default 1)')
    .option('--shard <i/n>', 'run shard i of n (a share of the runs, a seed of its own; default all runs)')
    .option(
      '--artifacts <dir>',
      `where failure artifacts go (env STRESS_ARTIFACTS, default ${DEFAULT_ARTIFACTS_DIR})`,
    )
    .option(
      '--history <dir>',
      'write one JSON line per run (seed, path, commands, reach, outcome) to a new file in DIR (env STRESS_HISTORY, default none)',
    )
    .option(
      '--from-run <k>',
      'start at run K of the seed, skipping the runs before it; --runs stays the total (default 1)',
    )
    .option('--json', 'print one JSON summary object on stdout (default a text report)')
    .action(async (flags: RunFlags) => {
      code = print(await run(flags), flags.json === true);
    });
  program
    .command('replay')
    .description('re-run a counterexample from its replay token or failure directory')
    .argument('[token-or-artifact]', 'replay token (es1....) or a kept failure directory')
    .option('--history <file>', 'a run history file (from run --history): replay one of its runs')
    .option('--run <k>', 'with --history: the run number of the line to replay')
    .option('--times <n>', `replay N times and report how often it failed (default ${DEFAULT_REPLAY_TIMES})`)
    .option('--json', 'print one JSON summary object on stdout')
    .action(
      async (
        argument: string | undefined,
        flags: { json?: boolean; times?: string; history?: string; run?: string },
      ) => {
        const settings = replaySettings(argument, flags);
        const times = flags.times === undefined ? DEFAULT_REPLAY_TIMES : parseCount(flags.times, '--times');
        code = print(await replayCounterexample(settings, times), flags.json === true);
      },
    );
  if (argv.length === 0) {
    throw usageError(
      'missing command; usage: embecode-stress run --strategy NAME [...] | replay TOKEN_OR_ARTIFACT | replay --history FILE --run K',
    );
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    const helpShown = ['commander.helpDisplayed', 'commander.help', 'commander.version'];
    if (error instanceof CommanderError && helpShown.includes(error.code)) return EXIT_OK;
    throw error;
  }
  return code;
}

void runCli(() => main(process.argv.slice(2)), 'embecode-stress');
