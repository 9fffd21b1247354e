import { usageError } from '../errors.js';
import { type CommandKind, type CommandMix, parseKinds } from './commands/swarm.js';

/** Everything that decides what one stress run does; a replay token carries a copy. */
export interface StressSettings {
  readonly strategy: string;
  /** What the runs drive: strategy objects in children (default), or real `embecode serve` processes. */
  readonly target?: 'strategy' | 'serve';
  readonly runs: number;
  readonly seed: number;
  readonly maxCommands: number;
  /** Generate nemesis commands too: SIGKILL the owner (also mid-write) and the reader, restart them. */
  readonly faults?: boolean;
  /** Stop starting new runs after this many seconds, and report what was done. */
  readonly timeLimitS?: number;
  /** Reader processes in each run (default 2). */
  readonly readers?: number;
  /** Longest one step may take before the run fails as a hang (default 20 s). */
  readonly stepDeadlineS?: number;
  /** Start at this run of the seed (from 1): the runs before it are skipped, `runs` stays the total. */
  readonly fromRun?: number;
  /**
   * Swarm testing: each run draws its own command mix (commands/swarm.ts). False (`--no-swarm`,
   * STRESS_SWARM=0): every run uses every kind at its default weight. Default true.
   */
  readonly swarm?: boolean;
  /** Command kinds the generator leaves out (`--drop-kinds`, STRESS_DROP_KINDS): a reach goal must notice. */
  readonly drop?: readonly CommandKind[];
  /**
   * A suite of at least this many runs must reach its goals (STRESS_REACH_MIN_RUNS; default and
   * at most DEFAULTS.runs, so it can only make more suites judged, never fewer).
   */
  readonly reachMinRuns?: number;
  /** Replay only: the command mix the failing run drew (a swarm run), checked against the replay's. */
  readonly mix?: CommandMix;
  /** Replay only: the exact commands to run (serialized), instead of generating any. */
  readonly commands?: readonly unknown[];
  /** Replay only: fast-check's path to the counterexample. */
  readonly path?: string;
  /** Replay only: which generated commands ran (fast-check's commands replayPath). */
  readonly replayPath?: string;
}

/** What summaries and progress call a check: its strategy, or `serve` for the serve target. */
export function checkName(settings: Pick<StressSettings, 'strategy' | 'target'>): string {
  return settings.target === 'serve' ? 'serve' : settings.strategy;
}

/** The `embecode-stress run` flag that picks what a check drives: `--target serve` or `--strategy S`. */
export function targetFlag(settings: Pick<StressSettings, 'strategy' | 'target'>): string {
  return settings.target === 'serve' ? '--target serve' : `--strategy ${settings.strategy}`;
}

/** Suits a developer machine: all strategies together stay well under two minutes. */
export const DEFAULTS = { runs: 200, maxCommands: 12, readers: 2, stepDeadlineS: 20 } as const;

/** Most reader processes a run may have: each is a child, and the machine has few cores. */
export const MAX_READERS = 8;

/** The run count from which a suite is judged on its reach goals: 1 to DEFAULTS.runs. */
export function parseReachMinRuns(raw: string, name: string): number {
  const value = parseCount(raw, name);
  if (value > DEFAULTS.runs) {
    throw usageError(
      `${name} must be at most ${DEFAULTS.runs}: every suite of the default size is judged on its reach goals, got ${value}`,
    );
  }
  return value;
}

/** The number of reader processes: 1 to MAX_READERS. */
export function parseReaders(raw: string, name: string): number {
  const value = parseCount(raw, name);
  if (value > MAX_READERS) throw usageError(`${name} must be at most ${MAX_READERS}, got ${value}`);
  return value;
}

/** User input as a message shows it: on one line (control characters escaped as in JSON), at most 40 characters. */
function shown(raw: string): string {
  const short = raw.length > 40 ? `${raw.slice(0, 39)}…` : raw;
  return short.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => JSON.stringify(c).slice(1, -1));
}

/** Parses a positive (or non-negative) integer from a flag or env var, or fails with a one-line usage error. */
export function parseCount(raw: string, name: string, { allowZero = false } = {}): number {
  const value = Number(raw.trim());
  if (!/^\s*\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || (!allowZero && value === 0)) {
    throw usageError(
      `${name} must be a ${allowZero ? 'non-negative' : 'positive'} integer, got '${shown(raw)}'`,
    );
  }
  return value;
}

export function parseSeed(raw: string, name: string): number {
  const value = Number(raw.trim());
  if (!/^\s*-?\d+\s*$/.test(raw) || !Number.isSafeInteger(value) || Math.abs(value) > 0x7fffffff) {
    throw usageError(`${name} must be an integer between -2147483647 and 2147483647, got '${shown(raw)}'`);
  }
  return value;
}

export function parseSeconds(raw: string, name: string): number {
  const value = Number(raw.trim());
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw usageError(`${name} must be a positive number of seconds, got '${shown(raw)}'`);
  }
  return value;
}

/** `1`/`true`/`yes` or `0`/`false`/`no`. */
export function parseFlag(raw: string, name: string): boolean {
  const value = raw.trim().toLowerCase();
  if (['1', 'true', 'yes'].includes(value)) return true;
  if (['0', 'false', 'no'].includes(value)) return false;
  throw usageError(`${name} must be 1 or 0 (true or false), got '${raw.slice(0, 40)}'`);
}

export function randomSeed(): number {
  return (Date.now() ^ (Math.random() * 0x7fffffff)) | 0;
}

/**
 * Settings from the environment knobs (STRESS_RUNS, STRESS_SEED, ...), each overriding a default.
 * A knob that is set must be valid, even when empty: `STRESS_SEED=$UNSET_VAR` is a mistake worth
 * a usage error, not a silent random seed.
 */
export function settingsFromEnv(strategy: string, env: NodeJS.ProcessEnv = process.env): StressSettings {
  const timeLimit = env.STRESS_TIME_LIMIT_S;
  return {
    strategy,
    runs: env.STRESS_RUNS !== undefined ? parseCount(env.STRESS_RUNS, 'STRESS_RUNS') : DEFAULTS.runs,
    seed: env.STRESS_SEED !== undefined ? parseSeed(env.STRESS_SEED, 'STRESS_SEED') : randomSeed(),
    maxCommands:
      env.STRESS_MAX_COMMANDS !== undefined
        ? parseCount(env.STRESS_MAX_COMMANDS, 'STRESS_MAX_COMMANDS')
        : DEFAULTS.maxCommands,
    ...(timeLimit !== undefined ? { timeLimitS: parseSeconds(timeLimit, 'STRESS_TIME_LIMIT_S') } : {}),
    ...(env.STRESS_FAULTS !== undefined ? { faults: parseFlag(env.STRESS_FAULTS, 'STRESS_FAULTS') } : {}),
    ...(env.STRESS_READERS !== undefined
      ? { readers: parseReaders(env.STRESS_READERS, 'STRESS_READERS') }
      : {}),
    ...(env.STRESS_STEP_DEADLINE_S !== undefined
      ? { stepDeadlineS: parseSeconds(env.STRESS_STEP_DEADLINE_S, 'STRESS_STEP_DEADLINE_S') }
      : {}),
    ...(env.STRESS_SWARM !== undefined ? { swarm: parseFlag(env.STRESS_SWARM, 'STRESS_SWARM') } : {}),
    ...(env.STRESS_DROP_KINDS !== undefined
      ? { drop: parseKinds(env.STRESS_DROP_KINDS, 'STRESS_DROP_KINDS') }
      : {}),
    ...(env.STRESS_REACH_MIN_RUNS !== undefined
      ? { reachMinRuns: parseReachMinRuns(env.STRESS_REACH_MIN_RUNS, 'STRESS_REACH_MIN_RUNS') }
      : {}),
  };
}
