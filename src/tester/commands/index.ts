import fc from 'fast-check';
import type { SearchMode } from '../../index/types.js';
import { FILE_PATHS, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { KillDuringWrite, KillOwner, KillReader, RestartOwner } from './fault-commands.js';
import { OwnerAcquire, OwnerCheckpoint, OwnerDelete, OwnerRelease, OwnerWrite } from './owner-commands.js';
import { ParallelBatch } from './parallel-batch.js';
import { ReaderClose, ReaderOpen, ReaderSearch } from './reader-commands.js';

const file = fc.nat({ max: FILE_PATHS.length - 1 });
const suffix = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
  minLength: 1,
  maxLength: 6,
});
const mode = fc.constantFrom<SearchMode>('bm25', 'vector', 'hybrid');
const pick = fc.nat({ max: 7 });

/** Every command the tester may generate; fast-check picks among them and shrinks the sequence. */
export function stressCommands({
  faults = false,
} = {}): fc.Arbitrary<fc.AsyncCommand<StressModel, StressWorld>>[] {
  const nemesis = [
    fc.constant(new KillOwner()),
    fc.tuple(file, suffix, fc.nat({ max: 30 })).map(([f, s, ms]) => new KillDuringWrite(f, s, ms)),
    fc.constant(new RestartOwner()),
    fc.constant(new RestartOwner()),
    fc.constant(new KillReader()),
  ];
  return [
    ...(faults ? nemesis : []),
    fc.tuple(file, suffix, fc.nat({ max: 4 })).map(([f, s, n]) => new OwnerWrite(f, s, n)),
    file.map((f) => new OwnerDelete(f)),
    fc.constant(new OwnerCheckpoint()),
    fc.constant(new OwnerRelease()),
    fc.constant(new OwnerAcquire()),
    fc.constant(new ReaderOpen()),
    fc.constant(new ReaderClose()),
    fc.tuple(mode, pick).map(([m, p]) => new ReaderSearch(m, p)),
    fc
      .tuple(fc.array(fc.record({ mode, pick }), { minLength: 1, maxLength: 4 }), file, suffix)
      .map(([searches, f, s]) => new ParallelBatch(searches, f, s)),
  ];
}
