import type fc from 'fast-check';
import type { SearchMode } from '../../src/index/types.js';
import { KillOwner, KillReader, RestartOwner } from '../../src/tester/commands/fault-commands.js';
import { IntruderProbe } from '../../src/tester/commands/intruder-commands.js';
import {
  OwnerAcquire,
  OwnerCheckpoint,
  OwnerDelete,
  OwnerRelease,
  OwnerWrite,
} from '../../src/tester/commands/owner-commands.js';
import { ParallelBatch } from '../../src/tester/commands/parallel-batch.js';
import { ReaderClose, ReaderOpen, ReaderSearch } from '../../src/tester/commands/reader-commands.js';
import type { SearchSpec } from '../../src/tester/commands/search-spec.js';
import { spec } from '../../src/tester/content.js';
import type { StepEvent } from '../../src/tester/history.js';
import { FILE_PATHS, PATH_PREFIXES, type StressModel } from '../../src/tester/model.js';
import type { StressWorld } from '../../src/tester/world.js';

/**
 * Short names for the tester's commands, so a regression test reads like the shrunk trace it
 * keeps. Each write puts one file in one slot with one token: `zq<sequence>x<suffix>`, so the
 * first write with suffix 'a' plants `zqaxa`, the second with 'b' `zqbxb`.
 */
export type Command = fc.AsyncCommand<StressModel, StressWorld>;

export function slotOf(path: (typeof FILE_PATHS)[number]): number {
  return FILE_PATHS.indexOf(path);
}

export const write = (slot: number, suffix: string, definitions = 1): Command =>
  new OwnerWrite([{ slot, spec: spec(definitions), suffix }]);
export const del = (slot: number): Command => new OwnerDelete(slot);
export const checkpoint = (): Command => new OwnerCheckpoint();
export const release = (): Command => new OwnerRelease();
export const acquire = (): Command => new OwnerAcquire();
export const open = (reader = 0): Command => new ReaderOpen(reader);
export const close = (reader = 0): Command => new ReaderClose(reader);
export const killOwner = (): Command => new KillOwner();
export const restartOwner = (): Command => new RestartOwner();
export const killReader = (reader = 0): Command => new KillReader(reader);
export const probe = (access: 'READ_WRITE' | 'READ_ONLY', target = 0): Command =>
  new IntruderProbe(target, access);

/** A search for the token `pick` writes back (0: the newest), top-10, no path filter. */
export function tokenSearch(mode: SearchMode, pick: number, topK = 10, prefix?: string): SearchSpec {
  const index = prefix === undefined ? 0 : PATH_PREFIXES.indexOf(prefix as (typeof PATH_PREFIXES)[number]);
  return { mode, query: { kind: 'token', pick }, topK, prefix: Math.max(0, index) };
}

export const search = (mode: SearchMode, pick: number, reader = 0): Command =>
  new ReaderSearch(reader, tokenSearch(mode, pick));

/** A write to `slot` racing the given searches (reader 1 unless said otherwise). */
export function batch(
  searches: readonly { mode: SearchMode; pick: number; reader?: number }[],
  slot: number,
  suffix: string,
): Command {
  return new ParallelBatch(
    { op: 'write', files: [{ slot, spec: spec(1), suffix }] },
    searches.map((s) => ({ reader: s.reader ?? 0, spec: tokenSearch(s.mode, s.pick) })),
  );
}

export function searches(steps: readonly StepEvent[]): StepEvent[] {
  return steps.filter((s) => s.op === 'search');
}
