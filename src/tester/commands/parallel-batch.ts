import type { AsyncCommand } from 'fast-check';
import pLimit from 'p-limit';
import type { SearchMode } from '../../index/types.js';
import { FILE_PATHS, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { applyWrite, plannedWrite } from './owner-commands.js';
import { tokenToSearch } from './reader-commands.js';

export interface BatchSearch {
  readonly mode: SearchMode;
  readonly pick: number;
}

/** Concurrency of one batch; searches beyond it queue, so the batch stays bounded. */
const BATCH_CONCURRENCY = 4;

/**
 * Several reader searches and one owner write, issued at once, so reads race a write for real.
 * Each search is checked only after all have settled: the write's acknowledgement time decides
 * what each search was allowed to see.
 */
export class ParallelBatch implements AsyncCommand<StressModel, StressWorld> {
  constructor(
    readonly searches: readonly BatchSearch[],
    readonly file: number,
    readonly suffix: string,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return model.readerOpen && model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const batch = world.newBatch();
    const write = plannedWrite(model, this.file, this.suffix, 0);
    // Searches pick among tokens that existed before the batch, plus the one being written.
    const tokens = this.searches.map((s, i) => (i === 0 ? write.token : tokenToSearch(model, s.pick)));
    const limit = pLimit(BATCH_CONCURRENCY);
    const outcomes = await Promise.allSettled([
      limit(() =>
        world.ownerStep(
          'write',
          { path: write.path, token: write.token },
          { files: [{ path: write.path, content: write.content }] },
          batch,
        ),
      ),
      ...this.searches.map((s, i) => limit(() => world.search(s.mode, tokens[i] as string, batch))),
    ]);
    const failure = outcomes.find((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    applyWrite(model, this.file, write.token);
    for (const outcome of outcomes.slice(1)) {
      if (outcome.status === 'fulfilled') world.check(outcome.value);
    }
  }

  toString(): string {
    const searches = this.searches.map((s) => `${s.mode} #${s.pick}`).join(', ');
    return `parallel(owner.write(${FILE_PATHS[this.file]}, ${JSON.stringify(this.suffix)}) || search ${searches})`;
  }
}
