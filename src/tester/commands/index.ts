import fc from 'fast-check';
import { fileSpec } from '../content.js';
import { FILE_PATHS, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { KillDuringWrite, KillOwner, KillReader, RestartOwner } from './fault-commands.js';
import { IntruderProbe } from './intruder-commands.js';
import {
  type FileWrite,
  OwnerAcquire,
  OwnerCheckpoint,
  OwnerDelete,
  OwnerRelease,
  OwnerWrite,
} from './owner-commands.js';
import { type BatchOwnerOp, ParallelBatch } from './parallel-batch.js';
import { ReaderClose, ReaderOpen, ReaderSearch, RepeatSearch } from './reader-commands.js';
import { searchSpec } from './search-spec.js';
import {
  availableKinds,
  type CommandKind,
  type CommandMix,
  type CommandOptions,
  defaultMix,
  weightedEntries,
} from './swarm.js';

export type { CommandOptions } from './swarm.js';

const slot = fc.nat({ max: FILE_PATHS.length - 1 });
const suffix = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
  minLength: 1,
  maxLength: 4,
});
const fileWrite: fc.Arbitrary<FileWrite> = fc.record({ slot, spec: fileSpec, suffix });
const files = fc.array(fileWrite, { minLength: 1, maxLength: 3 });

type CommandArbitrary = fc.Arbitrary<fc.AsyncCommand<StressModel, StressWorld>>;

/**
 * The commands the tester may generate for one run's mix (swarm.ts); fast-check picks among
 * them and shrinks the sequence. Without a mix, every kind these options allow at its default
 * weight: the same list, entry for entry, as before swarm existed, so old replay paths still
 * lead to the same commands.
 */
export function stressCommands(
  options: CommandOptions,
  mix: CommandMix = defaultMix(options),
): CommandArbitrary[] {
  const reader = fc.nat({ max: Math.max(0, options.readers - 1) });
  const batchOwner: fc.Arbitrary<BatchOwnerOp> = fc.oneof(
    { weight: 3, arbitrary: files.map((f) => ({ op: 'write' as const, files: f })) },
    { weight: 1, arbitrary: slot.map((s) => ({ op: 'delete' as const, slot: s })) },
    { weight: 1, arbitrary: fc.constant({ op: 'checkpoint' as const }) },
    { weight: 1, arbitrary: fc.constant({ op: 'release' as const }) },
  );
  const search = fc.tuple(reader, searchSpec).map(([r, s]) => new ReaderSearch(r, s));
  const repeat = fc
    .tuple(reader, fc.nat({ max: 3 }), fc.boolean())
    .map(([r, back, same]) => new RepeatSearch(r, back, same));
  // Delays, mostly none, put each step at a different point of the others: up to about as long
  // as an owner write with its publish takes here, so a search can start before, during or after.
  const delay = fc.oneof(
    { weight: 2, arbitrary: fc.constant(0) },
    { weight: 1, arbitrary: fc.integer({ min: 1, max: 60 }) },
  );
  // The intruder of a batch goes at once or up to about as long as a write with its close takes,
  // may keep trying until it gets in, and keeps what it got into for a while: readers opening
  // right after a write then meet its lock.
  const intruderTiming = fc.oneof(
    { weight: 1, arbitrary: fc.constant(null) },
    {
      weight: 2,
      arbitrary: fc.record({
        delayMs: fc.integer({ min: 0, max: 150 }),
        holdMs: fc.integer({ min: 1, max: 60 }),
      }),
    },
  );
  const batch = fc
    .tuple(
      batchOwner,
      fc.array(fc.record({ reader, spec: searchSpec, delayMs: delay }), { minLength: 1, maxLength: 6 }),
      delay,
      options.intruder === true
        ? fc.oneof(
            { weight: 1, arbitrary: fc.constant(null) },
            { weight: 1, arbitrary: fc.constantFrom('READ_WRITE' as const, 'READ_ONLY' as const) },
          )
        : fc.constant(null),
      fc.oneof(
        { weight: 1, arbitrary: fc.constant(null) },
        {
          weight: 1,
          arbitrary: fc.record({
            reader,
            spec: searchSpec,
            everyMs: fc.integer({ min: 1, max: 8 }),
            afterMs: delay,
          }),
        },
      ),
      intruderTiming,
    )
    .map(
      ([owner, searches, ownerDelay, intruder, stream, timing]) =>
        new ParallelBatch(owner, searches, ownerDelay, intruder, stream, timing),
    );
  // One arbitrary per kind; the mix decides which are listed and how often, among the kinds these
  // options allow (faults, an intruder, readers; minus the dropped).
  const byKind: Record<CommandKind, CommandArbitrary> = {
    KillOwner: fc.constant(new KillOwner()),
    KillDuringWrite: fc.tuple(files, fc.nat({ max: 30 })).map(([f, ms]) => new KillDuringWrite(f, ms)),
    RestartOwner: fc.constant(new RestartOwner()),
    KillReader: reader.map((r) => new KillReader(r)),
    IntruderProbe: fc
      .tuple(fc.nat({ max: 1 }), fc.constantFrom('READ_WRITE' as const, 'READ_ONLY' as const))
      .map(([t, a]) => new IntruderProbe(t, a)),
    OwnerWrite: files.map((f) => new OwnerWrite(f)),
    OwnerDelete: slot.map((s) => new OwnerDelete(s)),
    OwnerCheckpoint: fc.constant(new OwnerCheckpoint()),
    OwnerRelease: fc.constant(new OwnerRelease()),
    OwnerAcquire: fc.constant(new OwnerAcquire()),
    ReaderOpen: reader.map((r) => new ReaderOpen(r)),
    ReaderClose: reader.map((r) => new ReaderClose(r)),
    ReaderSearch: search,
    RepeatSearch: repeat,
    ParallelBatch: batch,
  };
  return weightedEntries(byKind, mix, availableKinds(options));
}
