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

const slot = fc.nat({ max: FILE_PATHS.length - 1 });
const suffix = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
  minLength: 1,
  maxLength: 4,
});
const fileWrite: fc.Arbitrary<FileWrite> = fc.record({ slot, spec: fileSpec, suffix });
const files = fc.array(fileWrite, { minLength: 1, maxLength: 3 });

export interface CommandOptions {
  readonly faults?: boolean;
  /** Reader processes in the run; commands name one of them. */
  readonly readers: number;
  /** Whether the run has an intruder process. */
  readonly intruder?: boolean;
}

/**
 * `fc.commands` picks each entry of its list alike and takes no weights: an entry listed `n`
 * times is picked `n` times as often. Searches and batches, the point of a run, weigh most.
 */
function weighted<T>(n: number, entry: () => T): T[] {
  return Array.from({ length: n }, entry);
}

/** Every command the tester may generate; fast-check picks among them and shrinks the sequence. */
export function stressCommands(
  options: CommandOptions,
): fc.Arbitrary<fc.AsyncCommand<StressModel, StressWorld>>[] {
  const reader = fc.nat({ max: Math.max(0, options.readers - 1) });
  const nemesis = [
    fc.constant(new KillOwner()),
    fc.tuple(files, fc.nat({ max: 30 })).map(([f, ms]) => new KillDuringWrite(f, ms)),
    // Weight 2: after a kill almost nothing else can run, so recovery must come soon.
    ...weighted(2, () => fc.constant(new RestartOwner())),
    reader.map((r) => new KillReader(r)),
  ];
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
  const batch = fc
    .tuple(
      batchOwner,
      fc.array(fc.record({ reader, spec: searchSpec, delayMs: delay }), { minLength: 1, maxLength: 6 }),
      delay,
      options.intruder === true
        ? fc.oneof(
            { weight: 2, arbitrary: fc.constant(null) },
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
    )
    .map(
      ([owner, searches, ownerDelay, intruder, stream]) =>
        new ParallelBatch(owner, searches, ownerDelay, intruder, stream),
    );
  const readerCommands =
    options.readers === 0
      ? []
      : [
          reader.map((r) => new ReaderOpen(r)),
          reader.map((r) => new ReaderClose(r)),
          ...weighted(4, () => search),
          ...weighted(2, () => repeat),
          ...weighted(2, () => batch),
        ];
  return [
    ...(options.faults === true ? nemesis : []),
    ...(options.intruder === true
      ? [
          fc
            .tuple(fc.nat({ max: 1 }), fc.constantFrom('READ_WRITE' as const, 'READ_ONLY' as const))
            .map(([t, a]) => new IntruderProbe(t, a)),
        ]
      : []),
    ...weighted(3, () => files.map((f) => new OwnerWrite(f))),
    ...weighted(2, () => slot.map((s) => new OwnerDelete(s))),
    fc.constant(new OwnerCheckpoint()),
    fc.constant(new OwnerRelease()),
    fc.constant(new OwnerAcquire()),
    ...readerCommands,
  ];
}
