import { type StressCommand, serializeCommands } from './commands/serialize.js';
import type { ProgressEvent } from './harness.js';
import { replayCommandFor } from './harness.js';
import { NO_REACH } from './reach.js';
import { encodeReplayToken } from './replay-token.js';
import { type StressSummary, toReportStep } from './report.js';
import { SERVE_COMMAND_CODEC, type ServeCommand } from './serve/commands.js';
import { checkName, type StressSettings, targetFlag } from './settings.js';

/**
 * What a check stopped by Ctrl-C (SIGINT) or SIGTERM reports: the runs done, the seed, what they
 * reached, a failure if one was already found, and commands that repeat the check or resume it.
 */

/** `embecode-stress run` with every setting spelled out, the seed included (it may have been random). */
export function repeatCommandFor(settings: StressSettings, workers = 1): string {
  return [
    'npx embecode-stress run',
    targetFlag(settings),
    `--seed ${settings.seed}`,
    `--runs ${settings.runs}`,
    `--max-commands ${settings.maxCommands}`,
    ...(settings.readers === undefined ? [] : [`--readers ${settings.readers}`]),
    ...(settings.faults === true ? ['--faults'] : []),
    ...(settings.swarm === false ? ['--no-swarm'] : []),
    ...(settings.drop === undefined || settings.drop.length === 0
      ? []
      : [`--drop-kinds ${settings.drop.join(',')}`]),
    ...(settings.stepDeadlineS === undefined ? [] : [`--step-deadline ${settings.stepDeadlineS}`]),
    ...(settings.timeLimitS === undefined ? [] : [`--time-limit ${settings.timeLimitS}`]),
    ...(workers > 1 ? [`--workers ${workers}`] : []),
  ].join(' ');
}

/**
 * The summary of an interrupted single-process check from its last progress event. Resuming
 * (`--from-run`) runs exactly the runs a full check of this seed would run after those done,
 * because fast-check generates run K from the seed and K alone.
 */
export function interruptedSummary(
  settings: StressSettings,
  last: ProgressEvent | undefined,
  elapsedMs: number,
  signal: NodeJS.Signals,
): StressSummary {
  const skipped = last?.skipped ?? Math.max(0, (settings.fromRun ?? 1) - 1);
  const generated = last?.generated ?? 0;
  const repeatCommand = repeatCommandFor(settings);
  const base = {
    strategy: checkName(settings),
    seed: settings.seed,
    runs: generated,
    elapsedMs,
    reach: last?.reach ?? NO_REACH,
    signal,
    repeatCommand,
    ...(skipped === 0 ? {} : { skippedRuns: skipped }),
    requestedRuns: settings.runs,
  };
  const failure = last?.failure;
  if (failure === undefined) {
    const next = skipped + generated + 1;
    return {
      ...base,
      status: 'passed',
      ...(next <= settings.runs ? { resumeCommand: `${repeatCommand} --from-run ${next}` } : {}),
    };
  }
  // A failure was found and was being shrunk: its smallest version so far replays from its commands.
  const token = encodeReplayToken({
    ...settings,
    path: '',
    replayPath: '',
    ...(failure.commands === undefined ? {} : serialized(settings, failure.commands)),
  });
  return {
    ...base,
    status: 'failed',
    shrinkRuns: last?.shrinkStep ?? 0,
    counterexample: {
      steps: failure.steps.map(toReportStep),
      originalLength: failure.steps.length,
      shrinks: last?.shrinkStep ?? 0,
      kind: failure.kind,
      error: failure.message,
      ...(failure.details === undefined ? {} : { details: failure.details }),
      replay: token,
      replayCommand: replayCommandFor(token),
    },
  };
}

/** The commands of a run as a token carries them, in its target's codec; none if they do not encode. */
function serialized(
  settings: StressSettings,
  commands: readonly unknown[],
): { commands?: readonly unknown[] } {
  try {
    return {
      commands:
        settings.target === 'serve'
          ? SERVE_COMMAND_CODEC.serialize(commands as readonly ServeCommand[])
          : serializeCommands(commands as readonly StressCommand[]),
    };
  } catch {
    return {};
  }
}

/**
 * A worker run's merged summary after an interrupt: the runs the workers did and what they
 * reached. Its goals are not judged (the runs were cut short), and resuming is not offered: each
 * worker has a seed of its own, so the whole check is repeated instead.
 */
export function interruptedWorkersSummary(
  settings: StressSettings,
  merged: StressSummary,
  workers: number,
  signal: NodeJS.Signals,
): StressSummary {
  const { unreached: _unreached, reason: _reason, ...rest } = merged;
  const cutShort = merged.status === 'failed' && merged.counterexample === undefined;
  return {
    ...rest,
    status: cutShort ? 'passed' : merged.status,
    signal,
    requestedRuns: settings.runs,
    repeatCommand: repeatCommandFor(settings, workers),
  };
}
