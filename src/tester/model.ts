import type { SearchRequest } from './clients/reader-actor.js';
import type { SearchSpec } from './commands/search-spec.js';

/**
 * The model fast-check keeps beside the real system: just enough state to decide which commands
 * make sense next (preconditions) and to pick arguments that refer to earlier steps. The verdict
 * on what a search saw comes from the recorded history (src/tester/checkers/), not from here,
 * because racing steps have more than one right answer.
 */
export interface StressModel {
  /** The strategy answers searches only through a holding owner (see Strategy.readerNeedsOwner). */
  readonly readerNeedsOwner: boolean;
  /** The owner process is running (faults can kill it). */
  ownerAlive: boolean;
  /** The owner holds the index (it is alive and has not released it). */
  ownerHolds: boolean;
  /** Per reader process: it has opened the index (or its strategy's view of it). */
  readonly readersOpen: boolean[];
  /** Token currently in each file slot, per the acknowledged writes; undefined when deleted. */
  readonly files: (string | undefined)[];
  /** Every token written in this run, oldest first. */
  readonly written: string[];
  /** The most recent searches, oldest first, so a command can repeat one exactly. */
  readonly searches: {
    readonly request: SearchRequest;
    readonly spec: SearchSpec;
    /** The reader slot that asked it: a client's own cache answers only its own repeats. */
    readonly slot: number;
    /** `files` when it was asked: a repeat is worth most once an acknowledged change came since. */
    readonly files: readonly (string | undefined)[];
  }[];
}

/**
 * The file slots a run writes to: few, so that replacing and deleting happen often, in four
 * languages, with names chosen for the path filter: `src/alpha` is a prefix of two names
 * (`src/alpha.ts`, `src/alphabet.py`), and `lib` starts one path and is inside another
 * (`src/lib/delta.rs`), so a filter that matches substrings or whole directories shows.
 */
export const FILE_PATHS = [
  'src/alpha.ts',
  'src/alphabet.py',
  'lib/gamma.go',
  'src/lib/delta.rs',
  'notes.ts',
] as const;

/** Path prefixes searches filter by (undefined: no filter). */
export const PATH_PREFIXES = [undefined, 'src/', 'src/alpha', 'lib', 'nowhere/'] as const;

export function initialModel(readers: number, readerNeedsOwner = false): StressModel {
  return {
    readerNeedsOwner,
    ownerAlive: true,
    ownerHolds: true,
    readersOpen: Array.from({ length: readers }, () => false),
    files: FILE_PATHS.map(() => undefined),
    written: [],
    searches: [],
  };
}

/** Whether a reader step can be answered now (always, unless the strategy reads through the owner). */
export function readerCanWork(model: Readonly<StressModel>): boolean {
  return !model.readerNeedsOwner || model.ownerHolds;
}

/** Readers are numbered from 1 in traces; `index` is generated from 0 and taken modulo the count. */
export function readerSlot(model: Readonly<StressModel>, index: number): number {
  return index % model.readersOpen.length;
}
