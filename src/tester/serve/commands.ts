import { setTimeout as sleep } from 'node:timers/promises';
import fc from 'fast-check';
import type { SearchRequest } from '../clients/reader-actor.js';
import { type FileWrite, planWrite } from '../commands/owner-commands.js';
import { describeSearch, resolveSearch, type SearchSpec, searchSpecWith } from '../commands/search-spec.js';
import { commandCodec } from '../commands/serialize.js';
import { fileSpec } from '../content.js';
import type { StepEvent } from '../history.js';
import { FILE_PATHS } from '../model.js';
import { StepFailure } from '../world.js';
import { MAX_SERVES, type ServeWorld } from './world.js';

/**
 * The serve target's commands. Each keeps nothing but its constructor's arguments (so a replay
 * token carries it, as for the strategy target), checks its precondition on the model, and runs
 * against the real world, where every step is recorded and checked at once.
 */

export interface ServeModel {
  /** Per serve slot: its process is running. */
  readonly alive: boolean[];
  /** Every token planted in the project so far, oldest first (searches pick among them). */
  readonly written: string[];
  /** Token per file slot on disk; undefined: no file. */
  readonly files: (string | undefined)[];
  /**
   * Tokens on disk when a catch-up was last acknowledged: the ones every later search must find
   * while their file is unchanged, so searches ask for them most.
   */
  acknowledged: string[];
}

export function initialServeModel(): ServeModel {
  return {
    alive: Array.from({ length: MAX_SERVES }, () => false),
    written: [],
    files: FILE_PATHS.map(() => undefined),
    acknowledged: [],
  };
}

/**
 * Which tokens a search's `token` query picks among: acknowledged ones still on disk (a search
 * must see them), ones no longer on disk (deleted or overwritten: acknowledged gone, or not yet),
 * or anything written. An empty pool falls back to everything written, then to the absent token.
 */
export type TokenPool = 'acknowledged' | 'gone' | 'written';

export function tokenPool(m: Readonly<ServeModel>, pool: TokenPool): string[] {
  const onDisk = new Set(m.files.filter((t): t is string => t !== undefined));
  const chosen =
    pool === 'acknowledged'
      ? m.acknowledged.filter((t) => onDisk.has(t))
      : pool === 'gone'
        ? m.written.filter((t) => !onDisk.has(t))
        : m.written;
  return chosen.length > 0 ? chosen : m.written;
}

function hasPool(m: Readonly<ServeModel>, pool: Exclude<TokenPool, 'written'>): boolean {
  const onDisk = new Set(m.files.filter((t): t is string => t !== undefined));
  return pool === 'acknowledged'
    ? m.acknowledged.some((t) => onDisk.has(t))
    : m.written.some((t) => !onDisk.has(t));
}

/** After an acknowledged catch-up: what was on disk when it was asked for is now a must-see. */
function acknowledge(
  m: ServeModel,
  onDiskWhenAsked: readonly (string | undefined)[],
  event: StepEvent,
): void {
  if (event.outcome !== 'ok') return;
  m.acknowledged = onDiskWhenAsked.filter((t): t is string => t !== undefined);
}

export type ServeCommand = fc.AsyncCommand<ServeModel, ServeWorld>;
type Signal = 'SIGKILL' | 'SIGTERM';

const aliveCount = (m: Readonly<ServeModel>) => m.alive.filter(Boolean).length;

/**
 * Commands name serves by position among the live ones (`pick` modulo how many live), so that a
 * command applies whenever any serve is alive, and a start takes the first free slot: generated
 * sequences waste few steps on preconditions that do not hold, and shrink to small numbers.
 */
export function liveSlot(m: Readonly<ServeModel>, pick: number): number {
  const live = m.alive.flatMap((a, i) => (a ? [i] : []));
  return live[pick % Math.max(1, live.length)] ?? 0;
}

function freeSlot(m: Readonly<ServeModel>): number {
  const free = m.alive.indexOf(false);
  return Math.max(free, 0);
}

/** How long a search or catch-up may take on the client side: a little under the step deadline. */
function requestTimeout(real: ServeWorld): number {
  return Math.max(1_000, real.parts.stepDeadlineMs - 500);
}

/** Marks the serves that are no longer running as dead in the model (kills, fatal stops). */
function syncAlive(model: ServeModel, real: ServeWorld): void {
  for (let i = 0; i < MAX_SERVES; i++) model.alive[i] = real.serves[i]?.alive === true;
}

async function killAndCheck(
  model: ServeModel,
  real: ServeWorld,
  slot: number,
  signal: Signal,
): Promise<void> {
  const victim = real.serve(slot);
  if (victim === undefined || !victim.alive) return;
  const wasOwner = (await real.owner())?.pid === victim.pid;
  const killedAt = real.history.now();
  const event = await victim.kill(signal, wasOwner);
  syncAlive(model, real);
  await real.check(event);
  if (event.outcome !== 'ok') throw failed(event);
  if (wasOwner) {
    const took = await real.awaitTakeover(killedAt, victim.pid);
    if (took !== undefined) await real.check(took);
  }
}

function failed(event: StepEvent): Error {
  return new Error(`${event.actor}.${event.op} failed: ${event.error}`);
}

export class StartServe implements ServeCommand {
  check(m: Readonly<ServeModel>): boolean {
    return aliveCount(m) < MAX_SERVES;
  }
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    const slot = freeSlot(m);
    const event = await real.start(slot);
    m.alive[slot] = true;
    await real.check(event);
    if (event.outcome !== 'ok') {
      throw new StepFailure(
        event,
        `serve-start: ${event.actor} did not start: ${event.error}`,
        'serve-start',
      );
    }
  }
  toString(): string {
    return 'start a serve';
  }
}

export class KillServe implements ServeCommand {
  constructor(
    readonly pick: number,
    readonly signal: Signal,
  ) {}
  check(m: Readonly<ServeModel>): boolean {
    return aliveCount(m) > 0;
  }
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    await killAndCheck(m, real, liveSlot(m, this.pick), this.signal);
  }
  toString(): string {
    return `${this.signal} live serve #${this.pick}`;
  }
}

/** Kills whichever serve owns the project now (the election lock's holder). */
export class KillOwner implements ServeCommand {
  constructor(readonly signal: Signal) {}
  check(m: Readonly<ServeModel>): boolean {
    return aliveCount(m) > 0;
  }
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    const owner = await real.owner();
    if (owner === undefined) return;
    await killAndCheck(m, real, real.serves.indexOf(owner), this.signal);
  }
  toString(): string {
    return `${this.signal} the owner`;
  }
}

/** Kills the owner while a catch-up or a search through `via` is in flight, `delayMs` after it left. */
export class KillOwnerDuring implements ServeCommand {
  constructor(
    readonly signal: Signal,
    readonly during: 'catch-up' | 'search',
    readonly via: number,
    readonly spec: SearchSpec,
    readonly delayMs: number,
  ) {}
  check(m: Readonly<ServeModel>): boolean {
    return aliveCount(m) > 0;
  }
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    const via = real.serve(liveSlot(m, this.via));
    const owner = await real.owner();
    if (via === undefined || owner === undefined) return;
    const request: SearchRequest = resolveSearch({ written: tokenPool(m, 'acknowledged') }, this.spec);
    const onDisk = [...m.files];
    const step =
      this.during === 'catch-up'
        ? via.catchUp(requestTimeout(real))
        : via.search(request, requestTimeout(real));
    await sleep(this.delayMs);
    await killAndCheck(m, real, real.serves.indexOf(owner), this.signal);
    const event = await step;
    if (this.during === 'catch-up') acknowledge(m, onDisk, event);
    await real.check(event);
  }
  toString(): string {
    const what = this.during === 'catch-up' ? 'catch-up' : `search ${describeSearch(this.spec)}`;
    return `${this.signal} the owner ${this.delayMs} ms into a ${what} via live serve #${this.via}`;
  }
}

export class ChangeFiles implements ServeCommand {
  constructor(readonly files: readonly FileWrite[]) {}
  check(): boolean {
    return true;
  }
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    const plan = planWrite(m, this.files);
    const { event } = await real.recorder.step(
      {
        actor: 'project',
        pid: process.pid,
        op: 'write',
        args: { paths: plan.files.map((f) => f.path), tokens: plan.tokens },
      },
      async () => {
        plan.files.forEach((f, i) => {
          real.project.write(f.path, f.content, plan.tokens[i] as string, () => real.history.now());
        });
      },
    );
    plan.files.forEach((f, i) => {
      m.files[FILE_PATHS.indexOf(f.path as (typeof FILE_PATHS)[number])] = plan.tokens[i];
    });
    m.written.push(...plan.tokens);
    await real.check(event);
  }
  toString(): string {
    return `change ${[...new Set(this.files.map((f) => FILE_PATHS[f.slot % FILE_PATHS.length]))].join(' ')}`;
  }
}

export class DeleteFile implements ServeCommand {
  constructor(readonly slot: number) {}
  check(m: Readonly<ServeModel>): boolean {
    return m.files[this.slot % FILE_PATHS.length] !== undefined;
  }
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    const path = FILE_PATHS[this.slot % FILE_PATHS.length] as string;
    const { event } = await real.recorder.step(
      { actor: 'project', pid: process.pid, op: 'delete', args: { paths: [path] } },
      async () => {
        real.project.delete(path, () => real.history.now());
      },
    );
    m.files[this.slot % FILE_PATHS.length] = undefined;
    await real.check(event);
  }
  toString(): string {
    return `delete ${FILE_PATHS[this.slot % FILE_PATHS.length]}`;
  }
}

/** The item-3 request: ask the owner, through serve `via`, to catch up now. */
export class CatchUp implements ServeCommand {
  constructor(readonly via: number) {}
  check(m: Readonly<ServeModel>): boolean {
    return aliveCount(m) > 0;
  }
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    const via = real.serve(liveSlot(m, this.via));
    if (via === undefined) return;
    const onDisk = [...m.files];
    const event = await via.catchUp(requestTimeout(real));
    syncAlive(m, real);
    acknowledge(m, onDisk, event);
    await real.check(event);
  }
  toString(): string {
    return `catch-up via live serve #${this.via}`;
  }
}

export class Search implements ServeCommand {
  constructor(
    readonly via: number,
    readonly spec: SearchSpec,
    readonly pool: TokenPool = 'written',
  ) {}
  /**
   * Any search waits for a first write (before it, every list is empty and proves little); one for
   * a gone token waits until there is one.
   */
  check(m: Readonly<ServeModel>): boolean {
    if (aliveCount(m) === 0 || m.written.length === 0) return false;
    return this.pool !== 'gone' || hasPool(m, 'gone');
  }
  /**
   * A search for an acknowledged token with none acknowledged on disk asks for a catch-up first,
   * through the same serve (a step of its own, as `embecode index` then `embecode search` would):
   * the "must see" half of the contract needs acknowledged tokens to judge.
   */
  async run(m: ServeModel, real: ServeWorld): Promise<void> {
    let via = real.serve(liveSlot(m, this.via));
    if (via === undefined) return;
    if (this.pool === 'acknowledged' && !hasPool(m, 'acknowledged')) {
      const onDisk = [...m.files];
      const asked = await via.catchUp(requestTimeout(real));
      syncAlive(m, real);
      acknowledge(m, onDisk, asked);
      await real.check(asked);
      via = real.serve(liveSlot(m, this.via));
      if (via === undefined || aliveCount(m) === 0) return;
    }
    const event = await via.search(
      resolveSearch({ written: tokenPool(m, this.pool) }, this.spec),
      requestTimeout(real),
    );
    syncAlive(m, real);
    await real.check(event);
  }
  toString(): string {
    const pool = this.spec.query.kind === 'token' && this.pool !== 'written' ? ` (${this.pool})` : '';
    return `search ${describeSearch(this.spec)}${pool} via live serve #${this.via}`;
  }
}

/** The intruder (not embecode) tries the index (target 0) or the election lock (target 1). */
export class Intrude implements ServeCommand {
  constructor(
    readonly target: number,
    readonly access: 'READ_WRITE' | 'READ_ONLY',
  ) {}
  check(): boolean {
    return true;
  }
  async run(_m: ServeModel, real: ServeWorld): Promise<void> {
    const intruder = real.intruder;
    if (intruder === undefined) return;
    const { rule, path } = real.intruderRule(this.target);
    const holders = async () => {
      const view = await real.locks();
      const ours = real.alive().map((s) => s.pid);
      const held = this.target % 2 === 0 ? view?.index : view?.election;
      return (held ?? []).some((pid) => ours.includes(pid));
    };
    // Promised to be kept out only when a serve held the file before and still holds it after.
    const before = await holders();
    const event = await intruder.probe(rule, path, this.access, { holds: before });
    const after = await holders();
    if (before && !after) return; // it let go meanwhile (a fatal stop): the probe proves nothing
    await real.check(event);
  }
  toString(): string {
    return `intruder ${this.access} ${this.target % 2 === 0 ? 'index' : 'election lock'}`;
  }
}

export const SERVE_COMMAND_CODEC = commandCodec<ServeCommand>({
  StartServe,
  KillServe,
  KillOwner,
  KillOwnerDuring,
  ChangeFiles,
  DeleteFile,
  CatchUp,
  Search,
  Intrude,
});

const serveSlot = fc.nat({ max: MAX_SERVES - 1 });
const fileSlot = fc.nat({ max: FILE_PATHS.length - 1 });
const suffix = fc.string({
  unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz'),
  minLength: 1,
  maxLength: 4,
});
const files = fc.array(fc.record({ slot: fileSlot, spec: fileSpec, suffix }), { minLength: 1, maxLength: 3 });
const signal = fc.constantFrom<Signal>('SIGKILL', 'SIGTERM');

/**
 * The strategy target's search shapes, weighted towards planted tokens and fewer path prefixes: a
 * serve run writes few files, so shared words and prefixes alone would leave most lists empty.
 */
const serveSearchSpec = searchSpecWith({ token: 7, word: 1, identifier: 1, absent: 1, unfiltered: 3 });

/** Every command the serve target may generate; `faults` adds SIGKILLs and kills in mid-request. */
export function serveCommands(options: { faults: boolean }): fc.Arbitrary<ServeCommand>[] {
  const start = fc.constant(null).map(() => new StartServe());
  // Most searches ask for a token a catch-up acknowledged (the "must see" half of the contract
  // needs results to judge), some for one gone from disk, a few for anything written; `searchSpec`
  // still adds shared words, identifiers and the never-written token.
  const pool = fc.oneof(
    { weight: 6, arbitrary: fc.constant<TokenPool>('acknowledged') },
    { weight: 2, arbitrary: fc.constant<TokenPool>('gone') },
    { weight: 1, arbitrary: fc.constant<TokenPool>('written') },
  );
  const search = fc.tuple(serveSlot, serveSearchSpec, pool).map(([v, s, p]) => new Search(v, s, p));
  const change = files.map((f) => new ChangeFiles(f));
  const catchUp = serveSlot.map((v) => new CatchUp(v));
  // Stopping a serve (SIGTERM: an editor closed) is everyday life, not a fault: always generated.
  const stops = [serveSlot.map((s) => new KillServe(s, 'SIGTERM')), fc.constant(new KillOwner('SIGTERM'))];
  const faults = [
    fc.tuple(serveSlot, signal).map(([s, g]) => new KillServe(s, g)),
    fc.constant(new KillOwner('SIGKILL')),
    fc
      .tuple(
        signal,
        fc.constantFrom('catch-up' as const, 'search' as const),
        serveSlot,
        serveSearchSpec,
        fc.nat({ max: 40 }),
      )
      .map(([g, d, v, s, ms]) => new KillOwnerDuring(g, d, v, s, ms)),
  ];
  // fast-check picks each entry alike: repeats weigh changes, catch-ups and searches, the steps
  // whose interleaving with starts and stops the contract is about.
  // Searches and the changes they look for weigh most: a search needs a live serve, something
  // written and (mostly) acknowledged, so many generated ones are dropped early in a run.
  return [
    start,
    start,
    start,
    change,
    change,
    change,
    change,
    change,
    fileSlot.map((s) => new DeleteFile(s)),
    catchUp,
    catchUp,
    catchUp,
    catchUp,
    search,
    search,
    search,
    search,
    search,
    search,
    fc
      .tuple(fc.nat({ max: 1 }), fc.constantFrom('READ_WRITE' as const, 'READ_ONLY' as const))
      .map(([t, a]) => new Intrude(t, a)),
    ...stops,
    ...(options.faults ? faults : []),
  ];
}
