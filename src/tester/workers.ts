import { join } from 'node:path';
import { execa } from 'execa';
import pLimit from 'p-limit';
import { usageError } from '../errors.js';
import { packageRoot } from '../process/children.js';
import { onTerminate } from '../process/cleanup.js';
import { addReach, goalsFor, NO_REACH, type ReachGoal, reachJudged, unreached, watchedFor } from './reach.js';
import { NO_FAULTS, type StressSummary } from './report.js';
import { serveGoals } from './serve/target.js';
import { checkName, DEFAULTS, type StressSettings } from './settings.js';

/** One shard of a CI matrix: `index` counts from 1, as people write `--shard 2/4`. */
export interface Shard {
  readonly index: number;
  readonly count: number;
}

export function parseShard(raw: string): Shard {
  const match = /^\s*(\d+)\s*\/\s*(\d+)\s*$/.exec(raw);
  const index = Number(match?.[1]);
  const count = Number(match?.[2]);
  if (match === null || count < 1 || index < 1 || index > count) {
    throw usageError(`--shard must be i/n with 1 <= i <= n, got '${raw}'`);
  }
  return { index, count };
}

/**
 * A seed for the k-th part of a run, distinct for distinct k and reproducible from the base seed.
 * Part 0 keeps the base seed, so one worker and no shard is exactly a plain run.
 */
export function deriveSeed(seed: number, part: number, salt = 0x9e3779b1): number {
  if (part === 0) return seed;
  return (Math.imul(seed ^ Math.imul(part, salt), 0x85ebca6b) ^ part) | 0;
}

/** The settings of one shard: its share of the runs, and its own seed. */
export function shardSettings(settings: StressSettings, shard: Shard): StressSettings {
  return {
    ...settings,
    runs: Math.max(1, Math.ceil(settings.runs / shard.count)),
    seed: deriveSeed(settings.seed, shard.index - 1, 0x27d4eb2f),
  };
}

/** Splits `runs` as evenly as possible over `workers`, largest share first. */
export function splitRuns(runs: number, workers: number): number[] {
  const parts: number[] = [];
  for (let k = 0; k < workers; k++) parts.push(Math.floor(runs / workers) + (k < runs % workers ? 1 : 0));
  return parts.filter((n) => n > 0);
}

/**
 * Runs `settings` as `workers` independent child processes (each `embecode-stress run --json` with
 * its own seed and share of the runs; a process each, so they use separate cores and separate
 * DuckDB instances) and merges their summaries. The first failure stops the other workers.
 */
export async function runWorkers(
  settings: StressSettings,
  workers: number,
  extraEnv: Record<string, string> = {},
  options: { readonly ownSessions?: boolean } = {},
): Promise<StressSummary> {
  const started = performance.now();
  const cli = join(packageRoot(), 'dist', 'src', 'cli', 'embecode-stress.js');
  const limit = pLimit(workers);
  const children = new Set<ReturnType<typeof execa>>();
  // SIGTERM, not SIGKILL: each worker then stops its own children and removes its temp dirs,
  // even after this process is gone.
  const forget = onTerminate(() => {
    for (const child of children) child.kill('SIGTERM');
  });
  let stopping = false;
  try {
    const summaries = await Promise.all(
      splitRuns(settings.runs, workers).map((runs, k) =>
        limit(async (): Promise<StressSummary | undefined> => {
          if (stopping) return undefined;
          const args = [
            cli,
            'run',
            '--strategy',
            settings.strategy,
            '--runs',
            String(runs),
            '--seed',
            String(deriveSeed(settings.seed, k)),
            '--max-commands',
            String(settings.maxCommands),
            ...(settings.timeLimitS === undefined ? [] : ['--time-limit', String(settings.timeLimitS)]),
            ...(settings.faults === true ? ['--faults'] : []),
            ...(settings.swarm === false ? ['--no-swarm'] : []),
            ...(settings.drop === undefined || settings.drop.length === 0
              ? []
              : ['--drop-kinds', settings.drop.join(',')]),
            ...(settings.target === 'serve' ? ['--target', 'serve'] : []),
            ...(settings.readers === undefined ? [] : ['--readers', String(settings.readers)]),
            ...(settings.stepDeadlineS === undefined
              ? []
              : ['--step-deadline', String(settings.stepDeadlineS)]),
            '--json',
          ];
          // ownSessions (bench workers, to measure the scheduler's share): each worker a session of
          // its own, so a CFS with autogroups gives each one a share, not one share for all.
          const child = execa(process.execPath, args, {
            reject: false,
            env: { ...extraEnv, CI: 'true' },
            ...(options.ownSessions === true ? { detached: true } : {}),
          });
          children.add(child);
          const result = await child;
          children.delete(child);
          if (stopping && result.stdout.trim() === '') return undefined;
          const summary = parseSummary(result.stdout, result.stderr, settings);
          if (summary.status !== 'passed') {
            stopping = true;
            // SIGTERM lets the other workers clean up (their owners, their temp dirs).
            for (const other of children) other.kill('SIGTERM');
          }
          return summary;
        }),
      ),
    );
    return mergeSummaries(settings, summaries, Math.round(performance.now() - started));
  } finally {
    forget();
  }
}

function parseSummary(stdout: string, stderr: string, settings: StressSettings): StressSummary {
  try {
    return JSON.parse(stdout) as StressSummary;
  } catch {
    return {
      strategy: checkName(settings),
      status: 'error',
      runs: 0,
      seed: settings.seed,
      elapsedMs: 0,
      reason: `a worker printed no summary: ${stderr.trim().split('\n').at(-1) ?? 'no stderr'}`,
    };
  }
}

/** The goals the merged run is judged by: the serve target's, or the strategy's. */
function goalsOf(settings: StressSettings): readonly ReachGoal[] {
  const faults = settings.faults === true;
  return settings.target === 'serve'
    ? serveGoals({ faults })
    : goalsFor(settings.strategy, { faults, readers: settings.readers ?? DEFAULTS.readers, intruder: true });
}

/** One summary for the whole run: failed if any worker failed (its counterexample), else passed. */
export function mergeSummaries(
  settings: StressSettings,
  summaries: readonly (StressSummary | undefined)[],
  elapsedMs: number,
): StressSummary {
  const done = summaries.filter((s): s is StressSummary => s !== undefined);
  const runs = done.reduce((n, s) => n + s.runs, 0);
  // A worker stopped mid-shrink (SIGTERM after another one failed) reports its failure too; the
  // finished one, with its artifact and its shrunk trace, is the one to show.
  const failed =
    done.find((s) => s.status === 'failed' && s.signal === undefined) ??
    done.find((s) => s.status === 'failed');
  const errored = done.find((s) => s.status === 'error');
  const base = { strategy: checkName(settings), runs, seed: settings.seed, elapsedMs };
  if (failed?.counterexample !== undefined) {
    return { ...base, status: 'failed', counterexample: failed.counterexample };
  }
  if (errored !== undefined)
    return { ...base, status: 'error', reason: errored.reason ?? 'a worker failed to start' };
  // Reach is judged on the whole run: a worker whose share missed a goal another worker reached is fine.
  const reach = done.reduce((sum, s) => (s.reach === undefined ? sum : addReach(sum, s.reach)), NO_REACH);
  const judged = reachJudged(settings, runs);
  const missed = judged ? unreached(reach, goalsOf(settings)) : [];
  if (missed.length > 0) {
    return {
      ...base,
      status: 'failed',
      reach,
      unreached: missed,
      reason: `never reached: ${missed.join('; ')} (seed ${settings.seed})`,
    };
  }
  const interrupted = done.some((s) => s.interrupted === true);
  const profiles = done.flatMap((s) => s.profiles ?? []);
  const counted = done.flatMap((s) => (s.faultsInjected === undefined ? [] : [s.faultsInjected]));
  const faultsInjected = counted.reduce(
    (a, b) => ({
      ownerKills: a.ownerKills + b.ownerKills,
      ownerKillsDuringWrite: a.ownerKillsDuringWrite + b.ownerKillsDuringWrite,
      readerKills: a.readerKills + b.readerKills,
    }),
    NO_FAULTS,
  );
  // The serve target watches no goals; a strategy's would all read as missed.
  const watched = settings.target === 'serve' ? [] : watchedFor(settings.strategy);
  const missedWatched = judged ? unreached(reach, watched) : [];
  return {
    ...base,
    status: 'passed',
    reach,
    ...(missedWatched.length === 0 ? {} : { missedWatched }),
    ...(interrupted ? { interrupted: true } : {}),
    ...(counted.length > 0 ? { faultsInjected } : {}),
    ...(profiles.length > 0 ? { profiles } : {}),
  };
}
