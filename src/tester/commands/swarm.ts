import fc from 'fast-check';
import { usageError } from '../../errors.js';

/**
 * Swarm testing (Groce et al., ISSTA 2012): each run draws its own command mix, a subset of the
 * command kinds and a weight for each, instead of every run using every kind at fixed weights.
 * Some kinds keep a bug from showing (a checkpoint after every write hides a WAL bug) and every
 * kind competes for the few steps of one run, so runs that leave kinds out reach states a fixed
 * mix rarely does. This file knows the kinds and mixes; commands/index.ts builds the arbitraries.
 */

/**
 * Every kind of command, by class name (the name a replay token and a run history use), in the
 * order the generator lists them: fast-check picks by position, so the order is part of what a
 * seed and path generate.
 */
export const COMMAND_KINDS = [
  'KillOwner',
  'KillDuringWrite',
  'RestartOwner',
  'KillReader',
  'IntruderProbe',
  'OwnerWrite',
  'OwnerDelete',
  'OwnerCheckpoint',
  'OwnerRelease',
  'OwnerAcquire',
  'ReaderOpen',
  'ReaderClose',
  'ReaderSearch',
  'RepeatSearch',
  'ParallelBatch',
] as const;

export type CommandKind = (typeof COMMAND_KINDS)[number];

export function isCommandKind(name: string): name is CommandKind {
  return (COMMAND_KINDS as readonly string[]).includes(name);
}

/** What a run has, which decides the kinds it can use at all. */
export interface CommandOptions {
  readonly faults?: boolean;
  /** Reader processes in the run; commands name one of them. */
  readonly readers: number;
  /** Whether the run has an intruder process. */
  readonly intruder?: boolean;
  /** Kinds left out of the generator altogether (STRESS_DROP_KINDS): a reach goal must notice. */
  readonly drop?: readonly CommandKind[];
}

/**
 * Each kind's weight without swarm: `fc.commands` picks each entry of its list alike and takes no
 * weights, so a kind of weight `n` is listed `n` times. Searches and batches, the point of a run,
 * weigh most; RestartOwner 2, because after a kill almost nothing else can run. These are the
 * weights the generator had before swarm existed: a run without a mix generates what it did then.
 */
export const DEFAULT_WEIGHTS: Readonly<Record<CommandKind, number>> = {
  KillOwner: 1,
  KillDuringWrite: 1,
  RestartOwner: 2,
  KillReader: 1,
  IntruderProbe: 1,
  OwnerWrite: 3,
  OwnerDelete: 2,
  OwnerCheckpoint: 1,
  OwnerRelease: 1,
  OwnerAcquire: 1,
  ReaderOpen: 1,
  ReaderClose: 1,
  ReaderSearch: 4,
  RepeatSearch: 2,
  ParallelBatch: 2,
};

/** One run's command mix: the kinds it may generate, each with its weight (absent: left out). */
export type CommandMix = Readonly<Partial<Record<CommandKind, number>>>;

const FAULT_KINDS: readonly CommandKind[] = ['KillOwner', 'KillDuringWrite', 'RestartOwner', 'KillReader'];
const READER_KINDS: readonly CommandKind[] = [
  'KillReader',
  'ReaderOpen',
  'ReaderClose',
  'ReaderSearch',
  'RepeatSearch',
  'ParallelBatch',
];

/** The kinds a run with these options can use (faults, an intruder, readers), before any drop. */
export function usableKinds(options: Omit<CommandOptions, 'drop'>): CommandKind[] {
  return COMMAND_KINDS.filter(
    (kind) =>
      (options.faults === true || !FAULT_KINDS.includes(kind)) &&
      (options.intruder === true || kind !== 'IntruderProbe') &&
      (options.readers > 0 || !READER_KINDS.includes(kind)),
  );
}

/** The kinds the generator may make for these options: the usable ones minus the dropped. */
export function availableKinds(options: CommandOptions): CommandKind[] {
  return usableKinds(options).filter((kind) => !(options.drop ?? []).includes(kind));
}

/** The mix without swarm (`--no-swarm`): every available kind at its default weight. */
export function defaultMix(options: CommandOptions): CommandMix {
  return Object.fromEntries(availableKinds(options).map((kind) => [kind, DEFAULT_WEIGHTS[kind]]));
}

/** Fewest kinds a swarm mix keeps: fewer, and a run tests little beyond the kinds it kept. */
export const SWARM_MIN_KINDS = 5;
/** Highest weight a swarm mix draws for a kind. */
export const SWARM_MAX_WEIGHT = 4;

/**
 * Makes a drawn mix one worth a run. Writes always (nothing to search otherwise). Parallel
 * batches whenever there are readers: they are how steps overlap at all, and without them
 * handoff's 200 runs at seed 7 met no reader lock conflict (0, against 6 with every kind), so only
 * their weight is drawn. A restart whenever the owner can be killed, and an acquire whenever it
 * can release, else one kill or release ends what the run can do. At least SWARM_MIN_KINDS kinds,
 * topped up in COMMAND_KINDS order at their default weights. Dropped kinds stay out whatever.
 */
export function completeMix(drawn: CommandMix, options: CommandOptions): CommandMix {
  const available = availableKinds(options);
  const mix: Partial<Record<CommandKind, number>> = {};
  for (const kind of available) if (drawn[kind] !== undefined) mix[kind] = drawn[kind];
  const keep = (kind: CommandKind) => {
    if (mix[kind] === undefined && available.includes(kind)) mix[kind] = DEFAULT_WEIGHTS[kind];
  };
  keep('OwnerWrite');
  keep('ParallelBatch');
  // Batches dropped (STRESS_DROP_KINDS): plain searches, so that runs still search.
  if (mix.ParallelBatch === undefined) keep('ReaderSearch');
  for (const kind of available) {
    if (Object.keys(mix).length >= SWARM_MIN_KINDS) break;
    keep(kind);
  }
  // Last, so that a kill or a release the top-up added gets its way back too.
  if (mix.KillOwner !== undefined || mix.KillDuringWrite !== undefined) keep('RestartOwner');
  if (mix.OwnerRelease !== undefined) keep('OwnerAcquire');
  // In COMMAND_KINDS order, so that a token or a history line shows the same mix the same way.
  return Object.fromEntries(COMMAND_KINDS.filter((k) => mix[k] !== undefined).map((k) => [k, mix[k]]));
}

/** A swarm mix per run: each available kind in or out at even odds, with a weight of 1 to 4. */
export function swarmMix(options: CommandOptions): fc.Arbitrary<CommandMix> {
  const kinds = availableKinds(options);
  return fc
    .tuple(...kinds.map(() => fc.option(fc.integer({ min: 1, max: SWARM_MAX_WEIGHT }), { freq: 2 })))
    .map((weights) => {
      const drawn: Partial<Record<CommandKind, number>> = {};
      kinds.forEach((kind, i) => {
        const weight = weights[i];
        if (weight !== null && weight !== undefined) drawn[kind] = weight;
      });
      return completeMix(drawn, options);
    });
}

/**
 * The entries `fc.commands` picks from for one mix: each kind's arbitrary as many times as its
 * weight, in COMMAND_KINDS order, for the `allowed` kinds only (a mix never brings in a kind the
 * run's options cannot use).
 */
export function weightedEntries<T>(
  arbitraries: Readonly<Record<CommandKind, T>>,
  mix: CommandMix,
  allowed: readonly CommandKind[],
): T[] {
  return COMMAND_KINDS.filter((kind) => allowed.includes(kind)).flatMap((kind) =>
    Array.from({ length: mix[kind] ?? 0 }, () => arbitraries[kind]),
  );
}

/** A mix on one line, for reports: `OwnerWritex3 ReaderSearchx1 ...`, in COMMAND_KINDS order. */
export function describeMix(mix: CommandMix): string {
  return COMMAND_KINDS.filter((k) => mix[k] !== undefined)
    .map((k) => `${k}x${mix[k]}`)
    .join(' ');
}

export function sameMix(a: CommandMix | undefined, b: CommandMix | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return COMMAND_KINDS.every((k) => a[k] === b[k]);
}

/** Kinds named in a comma-separated list (STRESS_DROP_KINDS), each one checked. */
export function parseKinds(raw: string, name: string): CommandKind[] {
  const names = raw
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  const unknown = names.find((n) => !isCommandKind(n));
  if (unknown !== undefined) {
    throw usageError(
      `${name} names no command kind '${unknown.slice(0, 30)}'; the kinds are ${COMMAND_KINDS.join(', ')}`,
    );
  }
  if (names.length === 0) throw usageError(`${name} is set but names no command kind; unset it or name some`);
  return names as CommandKind[];
}

/**
 * A mix as a replay token or a run history carries it, checked: every key a kind, every weight a
 * positive integer. Undefined for undefined (no mix: a run without swarm, or from before it).
 */
export function mixFromJson(raw: unknown, where: string): CommandMix | undefined {
  if (raw === undefined) return undefined;
  const entries = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? Object.entries(raw) : [];
  const bad = entries.find(([k, w]) => !isCommandKind(k) || !Number.isSafeInteger(w) || (w as number) < 1);
  if (entries.length === 0 || bad !== undefined) {
    const what =
      bad === undefined ? 'no kinds' : `'${String(bad[0]).slice(0, 30)}'=${String(bad[1]).slice(0, 10)}`;
    throw usageError(
      `${where}'s command mix has ${what}, not a kind and weight this embecode-stress knows (damaged, or from a newer version?)`,
    );
  }
  return Object.fromEntries(entries) as CommandMix;
}

/** Dropped kinds as a replay token or a run history carries them, checked. */
export function dropFromJson(raw: unknown, where: string): CommandKind[] | undefined {
  if (raw === undefined) return undefined;
  if (!Array.isArray(raw) || raw.some((k) => typeof k !== 'string' || !isCommandKind(k))) {
    throw usageError(
      `${where} is damaged (its dropped command kinds are not kinds this embecode-stress knows)`,
    );
  }
  return raw as CommandKind[];
}
