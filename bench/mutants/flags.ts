import type { Mutant } from './mutant.js';

export interface SuiteOptions {
  /** Mutant ids to run; undefined: all (of `strategy`, if given). */
  readonly only?: readonly string[];
  readonly seeds: readonly number[];
  readonly strategy?: string;
  readonly concurrency: number;
  readonly deadlineS: number;
  /** Git revision to copy (default HEAD), unless `worktree`: the files on disk, edits and all. */
  readonly rev: string;
  readonly worktree: boolean;
  readonly json: boolean;
  readonly help: boolean;
  /** `--no-swarm`: false; `--swarm` or neither: the tester's default (swarm on). */
  readonly swarm?: boolean;
}

/** Bad command line: the CLI prints its message on one line and exits 2. */
export class FlagError extends Error {
  override readonly name = 'FlagError';
}

export const USAGE =
  'usage: node dist/bench/mutants/run.js [--only ID[,ID]] [--seeds 1,2,3] [--strategy S] [--concurrency N] [--deadline-s S] [--rev REV | --worktree] [--swarm | --no-swarm] [--json]';

export const DEFAULT_SEEDS: readonly number[] = [1, 2, 3];
/** Generous: a default run takes ~20 s here; a shrink through real processes can take minutes. */
export const DEFAULT_DEADLINE_S = 300;

/** What the user typed, quoted and cut short, so that the error stays one line. */
function shown(raw: string): string {
  const text = JSON.stringify(raw);
  return text.length > 42 ? `${text.slice(0, 40)}…"` : text;
}

function positiveInteger(raw: string, flag: string): number {
  if (!/^\d+$/.test(raw) || Number(raw) === 0 || !Number.isSafeInteger(Number(raw))) {
    throw new FlagError(`${flag} must be a positive integer, got ${shown(raw)}`);
  }
  return Number(raw);
}

function list(raw: string, flag: string): string[] {
  const items = raw.split(',').map((s) => s.trim());
  if (items.some((s) => s === ''))
    throw new FlagError(`${flag} needs a comma-separated list, got ${shown(raw)}`);
  return items;
}

function seedList(raw: string): number[] {
  const seeds = list(raw, '--seeds').map((s) => {
    if (!/^-?\d+$/.test(s) || Math.abs(Number(s)) > 0x7fffffff) {
      throw new FlagError(`--seeds takes integers, got ${shown(s)}`);
    }
    return Number(s);
  });
  if (new Set(seeds).size !== seeds.length) throw new FlagError(`--seeds lists a seed twice: ${shown(raw)}`);
  return seeds;
}

function seconds(raw: string): number {
  const value = Number(raw);
  if (raw.trim() === '' || !Number.isFinite(value) || value <= 0) {
    throw new FlagError(`--deadline-s must be a positive number of seconds, got ${shown(raw)}`);
  }
  return value;
}

const VALUED = new Set(['--only', '--seeds', '--strategy', '--concurrency', '--deadline-s', '--rev']);

/** Parses argv (without `node` and the script); `--flag value` and `--flag=value` both work. */
export function parseFlags(argv: readonly string[]): SuiteOptions {
  const values = new Map<string, string>();
  let json = false;
  let help = false;
  let worktree = false;
  let swarm: boolean | undefined;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--swarm' || arg === '--no-swarm') {
      if (swarm !== undefined) throw new FlagError('--swarm and --no-swarm: give one of them, once');
      swarm = arg === '--swarm';
    } else if (arg === '--json') json = true;
    else if (arg === '--worktree') worktree = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else {
      const eq = arg.indexOf('=');
      const flag = eq === -1 ? arg : arg.slice(0, eq);
      if (!VALUED.has(flag)) throw new FlagError(`unknown argument ${shown(arg)}; ${USAGE}`);
      if (values.has(flag)) throw new FlagError(`${flag} is given twice`);
      const value = eq === -1 ? argv[++i] : arg.slice(eq + 1);
      if (value === undefined || (eq === -1 && value.startsWith('--'))) {
        throw new FlagError(`${flag} needs a value; ${USAGE}`);
      }
      values.set(flag, value);
    }
  }
  const only = values.get('--only');
  const seeds = values.get('--seeds');
  const strategy = values.get('--strategy');
  const concurrency = values.get('--concurrency');
  const deadline = values.get('--deadline-s');
  const rev = values.get('--rev');
  if (strategy?.trim() === '') throw new FlagError('--strategy needs a strategy name');
  if (rev !== undefined && rev.trim() === '') throw new FlagError('--rev needs a git revision');
  if (rev !== undefined && worktree) throw new FlagError('--rev and --worktree exclude each other');
  return {
    ...(only === undefined ? {} : { only: list(only, '--only') }),
    seeds: seeds === undefined ? DEFAULT_SEEDS : seedList(seeds),
    ...(strategy === undefined ? {} : { strategy: strategy.trim() }),
    concurrency: concurrency === undefined ? 1 : positiveInteger(concurrency, '--concurrency'),
    deadlineS: deadline === undefined ? DEFAULT_DEADLINE_S : seconds(deadline),
    rev: rev?.trim() ?? 'HEAD',
    worktree,
    json,
    help,
    ...(swarm === undefined ? {} : { swarm }),
  };
}

/**
 * The catalog entries the options ask for, in catalog order. Names that match nothing are errors,
 * not an empty run: a typo in `--only` would otherwise "pass" by running no mutant at all.
 */
export function selectMutants(catalog: readonly Mutant[], options: SuiteOptions): Mutant[] {
  const known = new Set(catalog.map((m) => m.id));
  const unknown = (options.only ?? []).filter((id) => !known.has(id));
  if (unknown.length > 0) throw new FlagError(`--only names no mutant ${unknown.map(shown).join(', ')}`);
  const strategies = new Set(catalog.map((m) => m.strategy));
  if (options.strategy !== undefined && !strategies.has(options.strategy)) {
    throw new FlagError(
      `--strategy ${shown(options.strategy)} has no mutants; choose one of ${[...strategies].join(', ')}`,
    );
  }
  const chosen = catalog.filter(
    (m) =>
      (options.only === undefined || options.only.includes(m.id)) &&
      (options.strategy === undefined || m.strategy === options.strategy),
  );
  if (chosen.length === 0) throw new FlagError('--only and --strategy together select no mutant');
  return chosen;
}
