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

/** Serializes and revives the commands of one target, by class name (see SerializedCommand). */
export interface CommandCodec<C> {
  serialize(commands: readonly C[]): SerializedCommand[];
  deserialize(list: unknown): C[];
}

export function commandCodec<C extends object>(
  classes: Readonly<Record<string, new (...args: never[]) => C>>,
): CommandCodec<C> {
  return {
    serialize: (commands) =>
      commands.map((command) => {
        const name = command.constructor.name;
        if (classes[name] !== command.constructor)
          throw new Error(`command ${name} is not serializable; add it to its target's classes`);
        return { c: name, a: Object.values(command) };
      }),
    deserialize: (list) => {
      if (!Array.isArray(list))
        throw usageError('replay token is damaged (commands are not a list); copy the whole token');
      return list.map((item: unknown) => {
        const { c, a } = (item ?? {}) as { c?: unknown; a?: unknown };
        const Class = typeof c === 'string' ? classes[c] : undefined;
        if (Class === undefined || !Array.isArray(a)) {
          throw usageError(
            `replay token names a command this embecode-stress does not know (${String(c).slice(0, 30)})`,
          );
        }
        return new Class(...(a as never[]));
      });
    },
  };
}

const STRATEGY_CODEC = commandCodec<StressCommand>(CLASSES);

export function serializeCommands(commands: readonly StressCommand[]): SerializedCommand[] {
  return STRATEGY_CODEC.serialize(commands);
}

export function deserializeCommands(list: unknown): StressCommand[] {
  return STRATEGY_CODEC.deserialize(list);
}

/** Commands that know simpler versions of themselves offer them, each a replacement list. */
export function simplerVersions<C = StressCommand>(command: C): C[][] {
  const simplify = (command as { simplify?: () => C[][] }).simplify;
  return typeof simplify === 'function' ? simplify.call(command) : [];
}

/** The commands of a fast-check command sequence that actually ran (their preconditions held). */
export function commandsThatRan<C = StressCommand>(iterable: Iterable<C>): C[] {
  // fast-check wraps each command and marks the ones it ran; the wrappers are its CommandsIterable's.
  const wrappers = (iterable as { commands?: readonly { cmd?: C; hasRan?: boolean }[] }).commands;
  if (Array.isArray(wrappers)) {
    return wrappers.filter((w) => w.hasRan === true && w.cmd !== undefined).map((w) => w.cmd as C);
  }
  return [...iterable];
}
