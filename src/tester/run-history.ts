import {
  accessSync,
  closeSync,
  constants,
  existsSync,
  openSync,
  readFileSync,
  statSync,
  writeSync,
} from 'node:fs';
import { join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
import { type SerializedCommand, type StressCommand, serializeCommands } from './commands/serialize.js';
import { type CommandKind, type CommandMix, dropFromJson, mixFromJson } from './commands/swarm.js';
import { makeDirectories } from './directories.js';
import type { StepEvent } from './history.js';
import { type Reach, reachOf } from './reach.js';
import type { StressSettings } from './settings.js';
import { StepFailure } from './world.js';

/**
 * A run history (`--history DIR`, env STRESS_HISTORY): one JSON line per generated run, so a
 * nightly of tens of thousands of runs can be read afterwards (what each run did, what it
 * reached) and any run found on CI replayed from the file alone (`replay --history FILE --run K`).
 * Shrink runs are not written: they are variations of the failing run, whose line is there.
 */

export const HISTORY_VERSION = 1;

export interface RunLine {
  readonly v: typeof HISTORY_VERSION;
  readonly strategy: string;
  readonly seed: number;
  /** The run's number under this seed, from 1 (`--from-run` keeps the numbering). */
  readonly run: number;
  /** fast-check's path to this run: the seed and this path generate exactly its commands again. */
  readonly path: string;
  /** The settings that decide what a run generates, so the line replays on its own. */
  readonly maxCommands: number;
  readonly readers?: number;
  readonly faults?: boolean;
  readonly stepDeadlineS?: number;
  /** A swarm run: the command mix it drew (absent: every kind at its default weight, `--no-swarm`). */
  readonly mix?: CommandMix;
  /** Command kinds the generator left out (`--drop-kinds`). */
  readonly drop?: readonly CommandKind[];
  /** The kinds of the commands that ran, in order (OwnerWrite, ReaderSearch, ...). */
  readonly commands: readonly string[];
  /** What this run exercised (see reach.ts). */
  readonly reach: Reach;
  readonly outcome: 'passed' | 'failed';
  /** A failed run: the kind of failure and its first line. */
  readonly kind?: string;
  readonly error?: string;
  /** A failed run: its commands in full, so its replay does not depend on fast-check's generation. */
  readonly replayCommands?: readonly SerializedCommand[];
  readonly ms: number;
}

/** An open history file; every line is written synchronously, so an interrupt loses none. */
export class RunHistory {
  private constructor(
    readonly file: string,
    private fd: number | undefined,
  ) {}

  /**
   * Creates `dir` if needed and a new file in it for this check. A directory that cannot be
   * written is a usage error, raised before any run starts.
   */
  static open(dir: string, strategy: string, seed: number, flag = '--history'): RunHistory {
    const root = checkHistoryDir(dir, flag);
    const file = join(root, `${strategy}-seed${seed}-${stamp(new Date())}-${process.pid}.jsonl`);
    try {
      return new RunHistory(file, openSync(file, 'a'));
    } catch (error) {
      throw cannotWrite(dir, flag, error);
    }
  }

  write(line: RunLine): void {
    if (this.fd === undefined) return;
    writeSync(this.fd, `${JSON.stringify(line)}\n`);
  }

  close(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Creates `dir` if needed and checks that files can be made in it; returns its absolute path.
 * A usage error otherwise, so a nightly learns before its first run, not after its last.
 */
export function checkHistoryDir(dir: string, flag = '--history'): string {
  if (dir.trim() === '') throw usageError(`${flag} needs a directory`);
  const root = resolve(dir);
  try {
    makeDirectories(root);
    if (!statSync(root).isDirectory()) throw Object.assign(new Error('not a directory'), { code: 'ENOTDIR' });
    accessSync(root, constants.W_OK);
  } catch (error) {
    throw cannotWrite(dir, flag, error);
  }
  return root;
}

function cannotWrite(dir: string, flag: string, error: unknown): Error {
  const code = (error as NodeJS.ErrnoException).code;
  const why =
    code === 'EACCES' || code === 'EROFS' || code === 'EPERM' || code === 'ENOENT'
      ? 'not writable'
      : code === 'ENOTDIR' || code === 'EEXIST'
        ? 'not a directory'
        : messageOf(error);
  return usageError(`${flag} ${dir}: cannot write a run history there (${why}); name a writable directory`);
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

/** The line for one generated run. */
export function runLine(
  settings: StressSettings,
  run: number,
  attempt: { commands: readonly StressCommand[]; steps: readonly StepEvent[]; error?: unknown },
  ms: number,
  mix?: CommandMix,
): RunLine {
  const failed = attempt.error !== undefined;
  const error = attempt.error;
  return {
    v: HISTORY_VERSION,
    strategy: settings.strategy,
    seed: settings.seed,
    run,
    path: String(run - 1),
    maxCommands: settings.maxCommands,
    ...(settings.readers === undefined ? {} : { readers: settings.readers }),
    ...(settings.faults === true ? { faults: true } : {}),
    ...(settings.stepDeadlineS === undefined ? {} : { stepDeadlineS: settings.stepDeadlineS }),
    ...(mix === undefined ? {} : { mix }),
    ...(settings.drop === undefined || settings.drop.length === 0 ? {} : { drop: settings.drop }),
    commands: attempt.commands.map((c) => c.constructor.name),
    reach: reachOf(attempt.steps),
    outcome: failed ? 'failed' : 'passed',
    ...(failed
      ? {
          kind: error instanceof StepFailure ? error.kind : 'error',
          error: messageOf(error).split('\n')[0] ?? '',
          replayCommands: serializeCommands(attempt.commands),
        }
      : {}),
    ms: Math.round(ms),
  };
}

/** Line `run` of a history file, or a one-line usage error saying what is wrong with the file. */
export function readRunLine(file: string, run: number): RunLine {
  if (!existsSync(file)) throw usageError(`--history ${file}: no such file`);
  if (statSync(file).isDirectory()) {
    throw usageError(`--history ${file} is a directory; name one of the .jsonl files in it`);
  }
  const lines = readFileSync(file, 'utf8').split('\n');
  const runs: number[] = [];
  for (const [i, text] of lines.entries()) {
    if (text.trim() === '') continue;
    let line: RunLine;
    try {
      line = JSON.parse(text) as RunLine;
    } catch {
      // A line cut short by a killed process is the last one; others are damage worth naming.
      if (i >= lines.length - 2) continue;
      throw usageError(`--history ${file}: line ${i + 1} is not JSON; is this a run history?`);
    }
    if (line.v !== HISTORY_VERSION || typeof line.run !== 'number') {
      throw usageError(
        `--history ${file}: line ${i + 1} is not a run history line (version ${String(line.v)})`,
      );
    }
    if (line.run === run) return line;
    runs.push(line.run);
  }
  const range =
    runs.length === 0 ? 'it has no runs' : `it has runs ${Math.min(...runs)} to ${Math.max(...runs)}`;
  throw usageError(`--history ${file}: no run ${run} (${range})`);
}

/**
 * The settings that replay one history line: its commands in full when it failed, else the
 * seed and fast-check path that generate it again (the same embecode-stress version required).
 */
export function replaySettingsOf(line: RunLine): StressSettings {
  const mix = mixFromJson(line.mix, `run history line ${line.run}`);
  const drop = dropFromJson(line.drop, `run history line ${line.run}`);
  return {
    strategy: line.strategy,
    seed: line.seed,
    runs: 1,
    maxCommands: line.maxCommands,
    ...(line.readers === undefined ? {} : { readers: line.readers }),
    ...(line.faults === true ? { faults: true } : {}),
    ...(line.stepDeadlineS === undefined ? {} : { stepDeadlineS: line.stepDeadlineS }),
    // No mix: a run without swarm, or a line from before swarm; both mean the default generator.
    ...(mix === undefined ? { swarm: false } : { swarm: true, mix }),
    ...(drop === undefined ? {} : { drop }),
    path: line.path,
    ...(line.replayCommands === undefined ? {} : { commands: line.replayCommands }),
  };
}
