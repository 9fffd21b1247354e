import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import pLimit from 'p-limit';
import { MutantDoesNotApply } from './apply.js';
import { runInGroup } from './group-process.js';
import { type Mutant, targetArgs } from './mutant.js';
import { classifyRun, type MutantResult, type SeedResult } from './outcome.js';
import { buildTree, copyTree, mutateTree, stressCli, type TempTree, type TreeSource } from './tree.js';

export interface SuiteSettings {
  readonly root: string;
  readonly source: TreeSource;
  readonly seeds: readonly number[];
  readonly concurrency: number;
  readonly deadlineS: number;
  /** Told of each result as it arrives (progress on stderr). */
  readonly onResult?: (line: string) => void;
  /** Flags every stress run gets besides the defaults (`--no-swarm`). */
  readonly pass?: PassThrough;
}

/** Flags a suite passes through to every stress run (the tester's defaults otherwise). */
export interface PassThrough {
  /** false: `--no-swarm` (every run uses every command kind at its default weight). */
  readonly swarm?: boolean;
  /** `--runs N` instead of the tester's default. */
  readonly runs?: number;
}

/**
 * The environment every child gets: ours without the STRESS_* knobs, so that a developer's
 * STRESS_RUNS=5 in the shell cannot quietly weaken the "default settings" the suite promises.
 */
export function childEnv(env: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const clean: Record<string, string> = {};
  for (const [key, value] of Object.entries(env)) {
    if (value !== undefined && !key.startsWith('STRESS_')) clean[key] = value;
  }
  return clean;
}

/**
 * `embecode-stress run --strategy S --seed N --json` (`--target serve` for serve mutants) and the
 * pass-through flags, run inside the copy.
 */
export async function stressRun(
  tree: TempTree,
  strategy: string,
  seed: number,
  deadlineS: number,
  pass: PassThrough = {},
): Promise<SeedResult> {
  // The run's temp files go inside the copy: a run killed at its deadline (SIGKILL, no clean-up of
  // its own) leaves nothing behind once the copy is removed.
  const tmp = join(tree.dir, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const run = await runInGroup(
    process.execPath,
    [
      stressCli(tree),
      'run',
      ...targetArgs(strategy),
      '--seed',
      String(seed),
      ...(pass.swarm === false ? ['--no-swarm'] : []),
      ...(pass.runs === undefined ? [] : ['--runs', String(pass.runs)]),
      '--json',
    ],
    { cwd: tree.dir, deadlineS, env: { ...childEnv(), TMPDIR: tmp } },
  );
  return classifyRun({ seed, ...run });
}

async function withTree<T>(
  settings: SuiteSettings,
  label: string,
  body: (tree: TempTree) => Promise<T>,
): Promise<T> {
  const tree = await copyTree(settings.root, label, settings.source);
  try {
    return await body(tree);
  } finally {
    tree.remove();
  }
}

export interface BaselineResult {
  readonly strategy: string;
  readonly result: SeedResult;
}

/**
 * The unmutated tree, once per strategy on the first seed: a mutant "caught" by a tester that
 * fails anyway proves nothing. Throws (a set-up error) when the tree does not build.
 */
export async function runBaseline(
  settings: SuiteSettings,
  strategies: readonly string[],
): Promise<BaselineResult[]> {
  return withTree(settings, 'baseline', async (tree) => {
    const failed = await buildTree(tree, childEnv());
    if (failed !== undefined) throw new Error(`the unmutated tree does not build: ${failed}`);
    const limit = pLimit(settings.concurrency);
    const seed = settings.seeds[0] ?? 1;
    return Promise.all(
      strategies.map((strategy) =>
        limit(async () => {
          const result = await stressRun(tree, strategy, seed, settings.deadlineS, settings.pass);
          settings.onResult?.(
            `baseline ${strategy} seed ${seed}: ${result.verdict} (${result.seconds.toFixed(1)} s)`,
          );
          return { strategy, result };
        }),
      ),
    );
  });
}

/** One mutant: copy, apply, build, then every seed in turn on that build. */
async function runMutant(settings: SuiteSettings, mutant: Mutant): Promise<MutantResult> {
  return withTree(settings, mutant.id, async (tree) => {
    try {
      mutateTree(tree, mutant);
    } catch (error) {
      if (!(error instanceof MutantDoesNotApply)) throw error;
      return { mutant, status: 'does-not-apply', reason: error.message, seeds: [] };
    }
    const failed = await buildTree(tree, childEnv());
    if (failed !== undefined) return { mutant, status: 'build-failed', reason: failed, seeds: [] };
    const seeds: SeedResult[] = [];
    for (const seed of settings.seeds) {
      const result = await stressRun(tree, mutant.strategy, seed, settings.deadlineS, settings.pass);
      settings.onResult?.(
        `${mutant.id} seed ${seed}: ${result.verdict}${result.traceLength === undefined ? '' : ` (${result.traceLength} steps${result.oneMinimal === false ? ', not shown 1-minimal' : ''}${result.failureClass === undefined ? '' : `, ${result.failureClass}`})`} in ${result.seconds.toFixed(1)} s`,
      );
      seeds.push(result);
    }
    return { mutant, status: 'ran', seeds };
  });
}

/** Every mutant, `concurrency` at a time, results in catalog order. */
export function runMutants(settings: SuiteSettings, mutants: readonly Mutant[]): Promise<MutantResult[]> {
  const limit = pLimit(settings.concurrency);
  return Promise.all(mutants.map((m) => limit(() => runMutant(settings, m))));
}
