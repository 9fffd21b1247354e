import { setTimeout as sleep } from 'node:timers/promises';
import type { AsyncCommand } from 'fast-check';
import pLimit from 'p-limit';
import type { OutsiderAccess, OutsiderRule } from '../../strategies/strategy.js';
import type { SearchRequest } from '../clients/reader-actor.js';
import type { StepEvent } from '../history.js';
import { FILE_PATHS, readerSlot, type StressModel } from '../model.js';
import type { StressWorld } from '../world.js';
import { outsiderRules } from './intruder-commands.js';
import {
  applyWrite,
  type FileWrite,
  OwnerCheckpoint,
  OwnerDelete,
  OwnerRelease,
  OwnerWrite,
  planWrite,
} from './owner-commands.js';
import { ensureOpen, ReaderSearch, rememberSearch } from './reader-commands.js';
import { describeSearch, resolveSearch, type SearchSpec } from './search-spec.js';
import type { StressCommand } from './serialize.js';

/** What the owner does while the searches run. */
export type BatchOwnerOp =
  | { readonly op: 'write'; readonly files: readonly FileWrite[] }
  | { readonly op: 'delete'; readonly slot: number }
  | { readonly op: 'checkpoint' }
  | { readonly op: 'release' };

export interface BatchSearch {
  readonly reader: number;
  readonly spec: SearchSpec;
  /** How long after the batch starts this search is sent (ms): staggers searches across the owner step. */
  readonly delayMs?: number;
}

/**
 * One reader asking the same question over and over, a new request every `everyMs` without waiting
 * for the last, from the batch's start until the owner step is acknowledged (and once more): at
 * every instant of the owner step a search of that reader is in flight, so whatever the step
 * changes (a publish, a lock taken for a write, a commit) meets a search that is mid-way.
 */
export interface BatchStream {
  readonly reader: number;
  readonly spec: SearchSpec;
  readonly everyMs: number;
  /**
   * When the first search goes (ms after the batch starts). Later than the owner step, the stream
   * meets a write already under way (a lock already taken) instead of holding the owner off.
   */
  readonly afterMs?: number;
}

/**
 * When the batch's intruder tries the file (ms after the batch starts) and how long it keeps it
 * once in: an outsider landing between the owner's writes and the readers' opens holds a lock
 * that every reader opening meanwhile must ride out (retry), as it must the owner's.
 */
export interface IntruderTiming {
  /**
   * At most this long: once everything else in the batch has settled, a later probe would meet
   * nothing a probe now does not, so it goes at once (waiting longer only costs the run time).
   */
  readonly delayMs: number;
  readonly holdMs: number;
  /**
   * Kept out, try again after this long (ms; 0: one try), until in or the owner step is
   * acknowledged (then once more), as an outsider waiting for its chance would: it gets in at the
   * first moment nobody holds the file, such as right after a write closes it.
   */
  readonly retryMs?: number;
}

/** A waiting intruder tries at most this many times in one batch. */
const INTRUDER_MAX_TRIES = 12;

/** A stream sends at most this many searches, however long the owner step takes. */
const STREAM_MAX_SEARCHES = 16;

/** The owner step of a batch as a command of its own. */
function ownerCommand(op: BatchOwnerOp): StressCommand {
  switch (op.op) {
    case 'write':
      return new OwnerWrite(op.files);
    case 'delete':
      return new OwnerDelete(op.slot);
    case 'checkpoint':
      return new OwnerCheckpoint();
    default:
      return new OwnerRelease();
  }
}

/** Concurrency of one batch; searches beyond it queue, so the batch stays bounded. */
const BATCH_CONCURRENCY = 6;

/**
 * One owner step (a write, a delete, a checkpoint, a release) and several searches from the
 * reader processes, issued at once, so reads race the owner for real, across processes. Each
 * search is checked only after all have settled: the owner step's acknowledgement time decides
 * what each search was allowed to see.
 */
export class ParallelBatch implements AsyncCommand<StressModel, StressWorld> {
  constructor(
    readonly owner: BatchOwnerOp,
    readonly searches: readonly BatchSearch[],
    /** How long after the batch starts the owner step is sent (ms), so it can land mid-search. */
    readonly ownerDelayMs = 0,
    /**
     * An intruder opening the index at the same time (null: none): an outsider holding the file
     * for a moment is something strategies that retry conflicts must ride out on both sides.
     */
    readonly intruder: OutsiderAccess | null = null,
    /** Searches streamed by one reader across the owner step (null: none). */
    readonly stream: BatchStream | null = null,
    /** When the intruder goes and how long it holds what it got into (null: at once, no hold). */
    readonly intruderTiming: IntruderTiming | null = null,
  ) {}

  check(model: Readonly<StressModel>): boolean {
    return model.ownerHolds;
  }

  async run(model: StressModel, world: StressWorld): Promise<void> {
    // A closed reader opens at its first search's moment, not before the batch: its open (for
    // handoff a READ_ONLY lock, for snapshot the newest copy) then races the owner step and the
    // intruder too. Once per reader: its other searches wait for that open. Before a release, an
    // ipc reader could find nobody to connect to, so then they open first, as before.
    const opens = new Map<number, Promise<void>>();
    const opened = (slot: number): Promise<void> => {
      let open = opens.get(slot);
      if (open === undefined) {
        open = ensureOpen(model, world, slot);
        opens.set(slot, open);
      }
      return open;
    };
    if (this.owner.op === 'release') {
      for (const s of this.searches) await opened(readerSlot(model, s.reader));
      if (this.stream !== null) await opened(readerSlot(model, this.stream.reader));
    }
    const batch = world.newBatch();
    const limit = pLimit(BATCH_CONCURRENCY);
    const write = this.owner.op === 'write' ? planWrite(model, this.owner.files) : undefined;
    const ownerStep = (): Promise<StepEvent> => {
      switch (this.owner.op) {
        case 'write':
          return world.owner.write(write ?? { files: [], tokens: [] }, batch);
        case 'delete':
          return world.owner.delete([FILE_PATHS[this.owner.slot % FILE_PATHS.length] as string], batch);
        default:
          return world.owner.simple(this.owner.op, batch);
      }
    };
    // Searches resolve their queries before the owner step changes the model; a first search for
    // a token asks for the token being written, the one whose visibility races.
    const requests = this.searches.map((s, i) =>
      i === 0 ? racingRequest(model, s.spec, write) : resolveSearch(model, s.spec),
    );
    let ownerDone = false;
    // Resolved once the owner step, the searches and the stream have all settled: from then on an
    // intruder's probe races nothing, so it need not wait out the rest of its start delay.
    let othersDone: () => void = () => {};
    const othersSettled = new Promise<void>((resolve) => {
      othersDone = resolve;
    });
    const probe = async (): Promise<StepEvent[]> => {
      const access = this.intruder;
      if (access === null || world.intruder === undefined) return [];
      const rule = outsiderRules(world)[0] as OutsiderRule;
      // A release in the batch may free the index before the probe: then nothing is promised.
      const holds = model.ownerHolds && this.owner.op !== 'release';
      const timing = this.intruderTiming;
      if (timing !== null && timing.delayMs > 0) await sleepUnless(timing.delayMs, othersSettled);
      const tried: StepEvent[] = [];
      for (;;) {
        const last = ownerDone;
        const event = await world.intruder.probe(
          rule,
          rule.resolve(world.context),
          access,
          { holds },
          batch,
          timing?.holdMs ?? 0,
        );
        tried.push(event);
        const retryMs = timing?.retryMs ?? 0;
        if (retryMs <= 0 || event.detail?.gotIn !== false || last || tried.length >= INTRUDER_MAX_TRIES) {
          return tried;
        }
        await sleep(retryMs);
      }
    };
    const streamRequest = this.stream === null ? undefined : racingRequest(model, this.stream.spec, write);
    const streamed = async (): Promise<StepEvent[]> => {
      const stream = this.stream;
      if (stream === null || streamRequest === undefined) return [];
      const reader = world.reader(readerSlot(model, stream.reader));
      if ((stream.afterMs ?? 0) > 0) await sleep(stream.afterMs);
      await opened(readerSlot(model, stream.reader));
      const sent: Promise<StepEvent>[] = [];
      while (sent.length < STREAM_MAX_SEARCHES) {
        const last = ownerDone;
        sent.push(reader.search(streamRequest, batch));
        if (last) break;
        await sleep(stream.everyMs);
      }
      return Promise.all(sent);
    };
    const probed = probe();
    const streaming = streamed();
    const tasks = [
      limit(async () => {
        if (this.ownerDelayMs > 0) await sleep(this.ownerDelayMs);
        return ownerStep().finally(() => {
          ownerDone = true;
        });
      }),
      ...this.searches.map((s, i) =>
        limit(async () => {
          if ((s.delayMs ?? 0) > 0) await sleep(s.delayMs);
          await opened(readerSlot(model, s.reader));
          return world.reader(readerSlot(model, s.reader)).search(requests[i] as SearchRequest, batch);
        }),
      ),
    ];
    void Promise.allSettled([...tasks, streaming]).then(othersDone);
    // A reader open failing inside the batch fails it, once the whole batch has settled: nothing
    // of it goes on while the run is judged.
    const settled = await Promise.allSettled([...tasks, streaming, probed]);
    for (const done of settled) if (done.status === 'rejected') throw done.reason;
    const events = [...(await Promise.all(tasks)), ...(await streaming)];
    for (const event of await probed) {
      world.requireOk(event);
      await world.check(event);
    }
    for (const event of events) {
      // A search racing a release of an owner that answers for everyone may be told to retry:
      // an honest answer. A wrong answer, or any other error, is not.
      const toldToRetry =
        this.owner.op === 'release' && event.op === 'search' && event.errorKind === 'unavailable';
      if (!toldToRetry || !model.readerNeedsOwner) world.requireOk(event);
    }
    if (write !== undefined) applyWrite(model, write);
    if (this.owner.op === 'delete') model.files[this.owner.slot % FILE_PATHS.length] = undefined;
    if (this.owner.op === 'release') model.ownerHolds = false;
    for (const event of events.slice(1)) await world.check(event);
    for (const [i, s] of this.searches.entries()) {
      rememberSearch(model, requests[i] as SearchRequest, s.spec, readerSlot(model, s.reader));
    }
    if (this.stream !== null && streamRequest !== undefined) {
      rememberSearch(model, streamRequest, this.stream.spec, readerSlot(model, this.stream.reader));
    }
  }

  /** Simpler batches: the same steps in sequence; one search fewer; the owner step alone; one search alone. */
  simplify(): StressCommand[][] {
    const fewer = this.searches.map((_, i) => [
      new ParallelBatch(
        this.owner,
        this.searches.filter((__, j) => j !== i),
        this.ownerDelayMs,
        this.intruder,
        this.stream,
        this.intruderTiming,
      ),
    ]);
    const streamSearch = this.stream === null ? [] : [new ReaderSearch(this.stream.reader, this.stream.spec)];
    return [
      // The same steps one after another: the failure may not need the race at all.
      [
        ownerCommand(this.owner),
        ...this.searches.map((s) => new ReaderSearch(s.reader, s.spec)),
        ...streamSearch,
      ],
      ...(this.stream === null
        ? []
        : [
            [
              new ParallelBatch(
                this.owner,
                this.searches,
                this.ownerDelayMs,
                this.intruder,
                null,
                this.intruderTiming,
              ),
            ],
          ]),
      ...(this.searches.length > 1 ? fewer : []),
      ...(this.ownerDelayMs > 0 || this.searches.some((s) => (s.delayMs ?? 0) > 0)
        ? [
            [
              new ParallelBatch(
                this.owner,
                this.searches.map((s) => ({ reader: s.reader, spec: s.spec })),
                0,
                this.intruder,
                this.stream,
                this.intruderTiming,
              ),
            ],
          ]
        : []),
      ...(this.intruder === null || this.intruderTiming === null
        ? []
        : [[new ParallelBatch(this.owner, this.searches, this.ownerDelayMs, this.intruder, this.stream)]]),
      ...(this.intruder === null
        ? []
        : [[new ParallelBatch(this.owner, this.searches, this.ownerDelayMs, null, this.stream)]]),
      [ownerCommand(this.owner)],
      ...this.searches.map((s) => [new ReaderSearch(s.reader, s.spec)]),
    ];
  }

  toString(): string {
    const owner =
      this.owner.op === 'write'
        ? `owner.write(${this.owner.files.length} files)`
        : this.owner.op === 'delete'
          ? `owner.delete(${FILE_PATHS[this.owner.slot % FILE_PATHS.length]})`
          : `owner.${this.owner.op}()`;
    const searches = this.searches.map((s) => `reader-${s.reader + 1} ${describeSearch(s.spec)}`).join(', ');
    const timing = this.intruderTiming;
    const intruder =
      this.intruder === null
        ? ''
        : ` || intruder ${this.intruder}${timing !== null && timing.delayMs > 0 ? ` from ${timing.delayMs} ms` : ''}${(timing?.retryMs ?? 0) > 0 ? ` retrying every ${timing?.retryMs} ms` : ''}${timing !== null && timing.holdMs > 0 ? `, holding ${timing.holdMs} ms` : ''}`;
    const stream =
      this.stream === null
        ? ''
        : ` || reader-${this.stream.reader + 1} ${describeSearch(this.stream.spec)} every ${this.stream.everyMs} ms${(this.stream.afterMs ?? 0) > 0 ? ` from ${this.stream.afterMs} ms` : ''}`;
    const delay = this.ownerDelayMs > 0 ? ` (owner after ${this.ownerDelayMs} ms)` : '';
    return `parallel(${owner}${delay} || ${searches}${intruder}${stream})`;
  }
}

/**
 * Waits `ms`, or less: until `early` resolves, if it does first. The timer goes with it, so a batch
 * that ends early leaves nothing pending.
 */
function sleepUnless(ms: number, early: Promise<void>): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    void early.then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

/**
 * A search's request, except that a token search asks for the token being written, the one whose
 * visibility races the write.
 */
function racingRequest(
  model: Readonly<StressModel>,
  spec: SearchSpec,
  write: { readonly tokens: readonly string[] } | undefined,
): SearchRequest {
  const request = resolveSearch(model, spec);
  const racing = write?.tokens[0];
  return spec.query.kind === 'token' && racing !== undefined ? { ...request, query: racing } : request;
}
