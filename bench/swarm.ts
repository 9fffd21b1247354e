import { CATALOG } from './mutants/catalog.js';
import type { SeedResult } from './mutants/outcome.js';
import { childEnv, stressRun } from './mutants/suite.js';
import { buildTree, copyTree, mutateTree, packageRoot, resolveCommit } from './mutants/tree.js';

/**
 * Swarm against no swarm on seeded bugs. Each mutant is applied to a copy of HEAD and built once;
 * then every seed runs the tester twice on that build, with swarm (each run draws its own command
 * mix) and with `--no-swarm` (every kind at its default weight): the same seed, the same run
 * count. It prints, per mutant and seed, whether each mode caught the bug and how long it took.
 *
 * Small on purpose (the machine is shared): three mutants, two seeds, the default run count. Two
 * are bugs the default generator reports within a minute; `ipc-reader-memoises-results` needs a
 * race it reaches only sometimes (FINDINGS.md, "What the seeded-bug suite shows"). Override with
 * SWARM_BENCH_MUTANTS (ids, comma-separated), SWARM_BENCH_SEEDS and SWARM_BENCH_RUNS.
 */

const DEFAULT_MUTANTS = [
  'owner-acks-write-before-commit',
  'path-filter-substring',
  'ipc-reader-memoises-results',
];
const DEFAULT_SEEDS = [1, 2];
/** A run that has not reported by then counts as not caught (it is killed with its processes). */
const DEADLINE_S = 600;

function listFromEnv(name: string, fallback: readonly string[]): string[] {
  const raw = process.env[name];
  return raw === undefined || raw.trim() === ''
    ? [...fallback]
    : raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s !== '');
}

function countFromEnv(name: string): number | undefined {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === '') return undefined;
  const value = Number(raw);
  if (!Number.isSafeInteger(value) || value < 1)
    throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return value;
}

interface Row {
  readonly mutant: string;
  readonly seed: number;
  readonly swarm: SeedResult;
  readonly plain: SeedResult;
}

function cell(result: SeedResult): string {
  if (result.verdict === 'caught') {
    return `caught at run ${result.runs ?? '?'} in ${result.seconds.toFixed(0)} s (${result.traceLength ?? '?'} steps)`;
  }
  return `${result.verdict} after ${result.seconds.toFixed(0)} s`;
}

function median(values: readonly number[]): number | undefined {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted.length === 0 ? undefined : sorted[Math.floor((sorted.length - 1) / 2)];
}

export async function swarmVersusDefault(): Promise<void> {
  const ids = listFromEnv('SWARM_BENCH_MUTANTS', DEFAULT_MUTANTS);
  const seeds = listFromEnv('SWARM_BENCH_SEEDS', DEFAULT_SEEDS.map(String)).map(Number);
  const runs = countFromEnv('SWARM_BENCH_RUNS');
  const mutants = ids.map((id) => {
    const mutant = CATALOG.find((m) => m.id === id);
    if (mutant === undefined) throw new Error(`SWARM_BENCH_MUTANTS names no mutant '${id}'`);
    return mutant;
  });
  const root = packageRoot();
  const source = { kind: 'commit' as const, commit: await resolveCommit(root, 'HEAD') };
  console.log(
    `${mutants.length} mutants x seeds ${seeds.join(', ')}, ${runs ?? 'the default'} runs each, commit ${source.commit.slice(0, 12)}; swarm and --no-swarm on the same build`,
  );
  const rows: Row[] = [];
  for (const [i, mutant] of mutants.entries()) {
    // A short label: the ipc socket path inside the copy must stay under the OS limit (107 bytes).
    const tree = await copyTree(root, `sw${i}`, source);
    try {
      mutateTree(tree, mutant);
      const failed = await buildTree(tree, childEnv());
      if (failed !== undefined) throw new Error(`${mutant.id}: the mutated tree does not build: ${failed}`);
      for (const seed of seeds) {
        // Alternate which mode goes first, so neither always meets the warmer (or busier) machine.
        const order = seed % 2 === 0 ? [true, false] : [false, true];
        const results = new Map<boolean, SeedResult>();
        for (const swarm of order) {
          const pass = { swarm, ...(runs === undefined ? {} : { runs }) };
          results.set(swarm, await stressRun(tree, mutant.strategy, seed, DEADLINE_S, pass));
        }
        const row = {
          mutant: mutant.id,
          seed,
          swarm: results.get(true) as SeedResult,
          plain: results.get(false) as SeedResult,
        };
        rows.push(row);
        console.log(`  ${mutant.id} seed ${seed}: swarm ${cell(row.swarm)}; no swarm ${cell(row.plain)}`);
      }
    } finally {
      tree.remove();
    }
  }
  const width = Math.max(6, ...rows.map((r) => r.mutant.length));
  console.log(`\n${'mutant'.padEnd(width)}  seed  ${'swarm'.padEnd(40)}  no swarm`);
  for (const r of rows) {
    console.log(
      `${r.mutant.padEnd(width)}  ${String(r.seed).padStart(4)}  ${cell(r.swarm).padEnd(40)}  ${cell(r.plain)}`,
    );
  }
  for (const [name, pick] of [
    ['swarm', (r: Row) => r.swarm],
    ['no swarm', (r: Row) => r.plain],
  ] as const) {
    const caught = rows.map(pick).filter((s) => s.verdict === 'caught');
    const seconds = median(caught.map((s) => s.seconds));
    const steps = median(caught.map((s) => s.traceLength ?? 0));
    const runs = median(caught.map((s) => s.runs ?? 0));
    console.log(
      `${name}: caught ${caught.length}/${rows.length} mutant-seed runs; median run of the first failure ${runs ?? '-'}, ${seconds === undefined ? '-' : seconds.toFixed(0)} s to a report, trace ${steps ?? '-'} steps`,
    );
  }
}
