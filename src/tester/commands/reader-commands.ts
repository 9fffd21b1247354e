import type { AsyncCommand } from 'fast-check';
import type { SearchMode } from '../../index/types.js';
import { readerCanWork, type StressModel } from '../model.js';
import { ABSENT_TOKEN } from '../tokens.js';
import type { StressWorld } from '../world.js';

type ReaderCommand = AsyncCommand<StressModel, StressWorld>;

/** reader.open() */
export class ReaderOpen implements ReaderCommand {
  check(model: Readonly<StressModel>): boolean {
    return !model.readerOpen && readerCanWork(model);
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    await world.readerStep('open');
    model.readerOpen = true;
  }

  toString(): string {
    return 'reader.open()';
  }
}

/** reader.close() */
export class ReaderClose implements ReaderCommand {
  check(model: Readonly<StressModel>): boolean {
    return model.readerOpen;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    await world.readerStep('close');
    model.readerOpen = false;
  }

  toString(): string {
    return 'reader.close()';
  }
}

/**
 * The token a search looks for: `pick` indexes the tokens written so far (newest first, so small
 * numbers, which shrink best, mean recent writes), or the never-written token when there are none.
 */
export function tokenToSearch(model: Readonly<StressModel>, pick: number): string {
  if (model.written.length === 0) return ABSENT_TOKEN;
  return model.written[model.written.length - 1 - (pick % model.written.length)] as string;
}

/** reader.search(mode, token) */
export class ReaderSearch implements ReaderCommand {
  constructor(
    readonly mode: SearchMode,
    readonly pick: number,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return model.readerOpen && readerCanWork(model);
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const event = await world.search(this.mode, tokenToSearch(model, this.pick));
    world.check(event);
  }

  toString(): string {
    return `reader.search(${this.mode}, #${this.pick})`;
  }
}
