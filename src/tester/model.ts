/**
 * The model fast-check keeps beside the real system: just enough state to decide which commands
 * make sense next (preconditions) and to pick arguments that refer to earlier steps. The verdict
 * on what a search saw comes from the recorded history (checker.ts), not from here, because
 * racing steps have more than one right answer.
 */
export interface StressModel {
  /** The strategy answers searches only through a holding owner (see Strategy.readerNeedsOwner). */
  readonly readerNeedsOwner: boolean;
  /** The owner process is running (faults can kill it). */
  ownerAlive: boolean;
  /** The owner holds the index (it is alive and has not released it). */
  ownerHolds: boolean;
  readerOpen: boolean;
  /** Token currently in each file slot, per the acknowledged writes; undefined when deleted. */
  readonly files: (string | undefined)[];
  /** Every token written in this run, oldest first. */
  readonly written: string[];
}

/** The file slots a run writes to; few, so that replacing and deleting happen often. */
export const FILE_PATHS = ['src/alpha.ts', 'src/beta.py', 'lib/gamma.go', 'delta.rs'] as const;

export function initialModel(readerNeedsOwner = false): StressModel {
  return {
    readerNeedsOwner,
    ownerAlive: true,
    ownerHolds: true,
    readerOpen: false,
    files: FILE_PATHS.map(() => undefined),
    written: [],
  };
}

/** Whether a reader step can be answered now (always, unless the strategy reads through the owner). */
export function readerCanWork(model: Readonly<StressModel>): boolean {
  return !model.readerNeedsOwner || model.ownerHolds;
}
