import type fc from 'fast-check';
import { usageError } from '../../errors.js';
import type { StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { KillDuringWrite, KillOwner, KillReader, RestartOwner } from './fault-commands.js';
import { IntruderProbe } from './intruder-commands.js';
import { OwnerAcquire, OwnerCheckpoint, OwnerDelete, OwnerRelease, OwnerWrite } from './owner-commands.js';
import { ParallelBatch } from './parallel-batch.js';
import { ReaderClose, ReaderOpen, ReaderSearch, RepeatSearch } from './reader-commands.js';

export type StressCommand = fc.AsyncCommand<StressModel, StressWorld>;

/**
 * A command as a replay token carries it: its class and its constructor's arguments. Commands
 * keep nothing but those arguments (public readonly parameter properties, in order), so a command
 * list survives a round trip through JSON: what the minimizer leaves over can be replayed exactly,
 * even where fast-check's own replay path could not express it.
 */
export interface SerializedCommand {
  readonly c: string;
  readonly a: readonly unknown[];
}

type CommandClass = new (...args: never[]) => StressCommand;

const CLASSES: Readonly<Record<string, CommandClass>> = {
  OwnerWrite,
  OwnerDelete,
  OwnerCheckpoint,
  OwnerRelease,
  OwnerAcquire,
  ReaderOpen,
  ReaderClose,
  ReaderSearch,
  RepeatSearch,
  ParallelBatch,
  IntruderProbe,
  KillOwner,
  KillDuringWrite,
  RestartOwner,
  KillReader,
} as unknown as Record<string, CommandClass>;

export function serializeCommands(commands: readonly StressCommand[]): SerializedCommand[] {
  return commands.map((command) => {
    const name = command.constructor.name;
    if (CLASSES[name] !== command.constructor)
      throw new Error(`command ${name} is not serializable; add it to CLASSES`);
    return { c: name, a: Object.values(command) };
  });
}

export function deserializeCommands(list: unknown): StressCommand[] {
  if (!Array.isArray(list))
    throw usageError('replay token is damaged (commands are not a list); copy the whole token');
  return list.map((item: unknown) => {
    const { c, a } = (item ?? {}) as { c?: unknown; a?: unknown };
    const Class = typeof c === 'string' ? CLASSES[c] : undefined;
    if (Class === undefined || !Array.isArray(a)) {
      throw usageError(
        `replay token names a command this embecode-stress does not know (${String(c).slice(0, 30)})`,
      );
    }
    return new Class(...(a as never[]));
  });
}

/** Commands that know simpler versions of themselves offer them, each a replacement list. */
export function simplerVersions(command: StressCommand): StressCommand[][] {
  const simplify = (command as { simplify?: () => StressCommand[][] }).simplify;
  return typeof simplify === 'function' ? simplify.call(command) : [];
}

/** The commands of a fast-check command sequence that actually ran (their preconditions held). */
export function commandsThatRan(iterable: Iterable<StressCommand>): StressCommand[] {
  // fast-check wraps each command and marks the ones it ran; the wrappers are its CommandsIterable's.
  const wrappers = (iterable as { commands?: readonly { cmd?: StressCommand; hasRan?: boolean }[] }).commands;
  if (Array.isArray(wrappers)) {
    return wrappers
      .filter((w) => w.hasRan === true && w.cmd !== undefined)
      .map((w) => w.cmd as StressCommand);
  }
  return [...iterable];
}
