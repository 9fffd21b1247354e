import type { AsyncCommand } from 'fast-check';
import type { SearchRequest } from '../clients/reader-actor.js';
import { readerCanWork, readerSlot, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { describeRequest, describeSearch, resolveSearch, type SearchSpec } from './search-spec.js';
import type { StressCommand } from './serialize.js';

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

/** Keeps the most recent searches, so a later command can ask one again, exactly. */
const REMEMBERED_SEARCHES = 8;

export function rememberSearch(
  model: StressModel,
  request: SearchRequest,
  spec: SearchSpec,
  slot: number,
): void {
  model.searches.push({ request, spec, slot, files: [...model.files] });
  if (model.searches.length > REMEMBERED_SEARCHES) model.searches.shift();
}

/** The search a repeat asks again, by content: the request as first asked, and who asked it. */
export interface RepeatedSearch {
  readonly request: SearchRequest;
  /** The reader slot that asked it first. */
  readonly slot: number;
}

/**
 * reader-N.repeat(back): asks again, exactly, an earlier search, as a person reruns a query after
 * an edit: an answer kept from before the edit (a cache keyed by query) shows as soon as anything
 * it covered changed. With `sameReader` the reader that asked it first asks again (a client-side
 * cache sees only its own client's questions); otherwise reader N does.
 *
 * Which search is picked once, by position: the one `back` searches ago, counting those asked
 * before the files last changed when there are any. From then on the repeat names it by content
 * (`asked`: mode, query, top-k, prefix and the reader that asked it), so a replay or the minimizer
 * removing other steps, the earlier search included, leaves the question it asks unchanged.
 */
export class RepeatSearch implements ReaderCommand {
  constructor(
    readonly reader: number,
    readonly back: number,
    readonly sameReader = false,
    /** Null until the first run picks the search; kept (and serialized) after. */
    public asked: RepeatedSearch | null = null,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return (this.asked !== null || model.searches.length > 0) && readerCanWork(model);
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const asked = this.asked ?? pickEarlier(model, this.back);
    if (asked === undefined) return;
    this.asked = asked;
    const slot = this.sameReader ? readerSlot(model, asked.slot) : readerSlot(model, this.reader);
    await ensureOpen(model, world, slot);
    const event = await world.reader(slot).search(asked.request);
    world.requireOk(event);
    await world.check(event);
  }

  toString(): string {
    const what = this.asked === null ? `${this.back} back` : describeRequest(this.asked.request);
    return this.sameReader
      ? `repeat(${what}, by the reader that asked it${this.asked === null ? '' : `, reader-${this.asked.slot + 1}`})`
      : `reader-${this.reader + 1}.repeat(${what})`;
  }
}

/** The search `back` searches ago, among those asked before the files last changed if there are any. */
function pickEarlier(model: Readonly<StressModel>, back: number): RepeatedSearch | undefined {
  // Asked again with nothing changed in between, a stale answer would look right.
  const changedSince = model.searches.filter((s) => s.files.some((token, i) => token !== model.files[i]));
  const pool = changedSince.length > 0 ? changedSince : model.searches;
  const earlier = pool[pool.length - 1 - (back % pool.length)];
  return earlier === undefined ? undefined : { request: earlier.request, slot: earlier.slot };
}

/** reader-N.search(spec), opening the reader first when it is closed. */
export class ReaderSearch implements ReaderCommand {
  constructor(
    readonly reader: number,
    readonly spec: SearchSpec,
  ) {}

  /** Only once something was written: a search of an empty index can only come back empty. */
  check(model: Readonly<StressModel>): boolean {
    return readerCanWork(model) && model.written.length > 0;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    const slot = readerSlot(model, this.reader);
    await ensureOpen(model, world, slot);
    const request = resolveSearch(model, this.spec);
    const event = await world.reader(slot).search(request);
    world.requireOk(event);
    await world.check(event);
    rememberSearch(model, request, this.spec, slot);
  }

  /** The same search without its path prefix, at the default top-k. */
  simplify(): StressCommand[][] {
    const plain = { ...this.spec, prefix: 0, topK: 10 };
    return plain.prefix === this.spec.prefix && plain.topK === this.spec.topK
      ? []
      : [[new ReaderSearch(this.reader, plain)]];
  }

  toString(): string {
    return `reader-${this.reader + 1}.search(${describeSearch(this.spec)})`;
  }
}
