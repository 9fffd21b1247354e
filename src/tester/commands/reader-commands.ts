import type { AsyncCommand } from 'fast-check';
import { readerCanWork, readerSlot, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { describeSearch, resolveSearch, type SearchSpec } from './search-spec.js';

type ReaderCommand = AsyncCommand<StressModel, StressWorld>;

/** reader-N.open() */
export class ReaderOpen implements ReaderCommand {
  constructor(readonly reader: number) {}

  check(model: Readonly<StressModel>): boolean {
    return !model.readersOpen[readerSlot(model, this.reader)] && readerCanWork(model);
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const slot = readerSlot(model, this.reader);
    await world.reviveIfDead(slot);
    world.requireOk(await world.reader(slot).open());
    model.readersOpen[slot] = true;
  }

  toString(): string {
    return `reader-${this.reader + 1}.open()`;
  }
}

/** reader-N.close() */
export class ReaderClose implements ReaderCommand {
  constructor(readonly reader: number) {}

  check(model: Readonly<StressModel>): boolean {
    return model.readersOpen[readerSlot(model, this.reader)] === true;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const slot = readerSlot(model, this.reader);
    world.requireOk(await world.reader(slot).close());
    model.readersOpen[slot] = false;
  }

  toString(): string {
    return `reader-${this.reader + 1}.close()`;
  }
}

/**
 * Opens reader `slot` if it is closed (a recorded step of its own), so that searches need no
 * separate open command to be worth generating: a short sequence still searches.
 */
export async function ensureOpen(model: StressModel, world: StressWorld, slot: number): Promise<void> {
  if (model.readersOpen[slot] === true) return;
  await world.reviveIfDead(slot);
  world.requireOk(await world.reader(slot).open());
  model.readersOpen[slot] = true;
}

/** reader-N.search(spec), opening the reader first when it is closed. */
export class ReaderSearch implements ReaderCommand {
  constructor(
    readonly reader: number,
    readonly spec: SearchSpec,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return readerCanWork(model);
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const slot = readerSlot(model, this.reader);
    await ensureOpen(model, world, slot);
    const event = await world.reader(slot).search(resolveSearch(model, this.spec));
    world.requireOk(event);
    await world.check(event);
  }

  toString(): string {
    return `reader-${this.reader + 1}.search(${describeSearch(this.spec)})`;
  }
}
