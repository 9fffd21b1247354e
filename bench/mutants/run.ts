#!/usr/bin/env node
import { pathToFileURL } from 'node:url';
import { CATALOG } from './catalog.js';
import { FlagError, parseFlags, selectMutants, USAGE } from './flags.js';
import { caughtEverywhere } from './outcome.js';
import { runBaseline, runMutants } from './suite.js';
import { formatProblems, formatTable, summaryLine } from './table.js';
import { packageRoot, resolveCommit, type TreeSource } from './tree.js';

/**
 * `npm run mutants` (after `npm run build`): the seeded-bug suite. Each catalog mutant is applied
 * to a fresh copy of the tree, built, and given to the stress tester at its default settings on
 * each seed. Exit 0: every mutant caught on every seed; 1: some were not; 2: the suite could not
 * run (bad flags, a tree that does not build, a baseline that fails without any mutant).
 */

const EXIT_ALL_CAUGHT = 0;
const EXIT_SOME_MISSED = 1;
const EXIT_SETUP = 2;

function setupError(message: string): number {
  process.stderr.write(`embecode-mutants: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  return EXIT_SETUP;
}

async function main(argv: readonly string[]): Promise<number> {
  let options: ReturnType<typeof parseFlags>;
  let mutants: ReturnType<typeof selectMutants>;
  try {
    options = parseFlags(argv);
    if (options.help) {
      process.stdout.write(
        `${USAGE}\n\nmutants:\n${CATALOG.map((m) => `  ${m.id} (${m.strategy}): ${m.description}`).join('\n')}\n`,
      );
      return EXIT_ALL_CAUGHT;
    }
    mutants = selectMutants(CATALOG, options);
  } catch (error) {
    if (error instanceof FlagError) return setupError(error.message);
    throw error;
  }
  const progress = (line: string) => process.stderr.write(`${line}\n`);
  const root = packageRoot();
  let source: TreeSource;
  try {
    source = options.worktree
      ? { kind: 'worktree' }
      : { kind: 'commit', commit: await resolveCommit(root, options.rev) };
  } catch (error) {
    return setupError(error instanceof Error ? error.message : String(error));
  }
  progress(
    `mutating ${source.kind === 'worktree' ? `the working tree of ${root}` : `commit ${source.commit.slice(0, 12)} (${options.rev})`}; seeds ${options.seeds.join(', ')}`,
  );
  const settings = {
    root,
    source,
    seeds: options.seeds,
    concurrency: options.concurrency,
    deadlineS: options.deadlineS,
    onResult: progress,
    ...(options.swarm === undefined ? {} : { pass: { swarm: options.swarm } }),
  };
  const strategies = [...new Set(mutants.map((m) => m.strategy))];
  const started = performance.now();
  let baseline: Awaited<ReturnType<typeof runBaseline>>;
  try {
    baseline = await runBaseline(settings, strategies);
  } catch (error) {
    return setupError(error instanceof Error ? error.message : String(error));
  }
  const broken = baseline.filter((b) => b.result.verdict !== 'survived');
  if (broken.length > 0) {
    const reasons = broken.map(
      (b) =>
        `${b.strategy} seed ${b.result.seed} ${b.result.verdict}${b.result.detail === undefined ? '' : ` (${b.result.detail})`}${b.result.error === undefined ? '' : ` (${b.result.error})`}`,
    );
    if (options.json) process.stdout.write(`${JSON.stringify({ status: 'error', baseline })}\n`);
    return setupError(
      `the unmutated tree does not pass, so no mutant result would mean anything: ${reasons.join('; ')}`,
    );
  }
  const results = await runMutants(settings, mutants);
  const allCaught = results.every(caughtEverywhere);
  if (options.json) {
    process.stdout.write(
      `${JSON.stringify({
        status: allCaught ? 'all-caught' : 'some-missed',
        source,
        seeds: options.seeds,
        elapsedS: Math.round((performance.now() - started) / 1000),
        baseline,
        mutants: results,
        summary: summaryLine(results),
      })}\n`,
    );
  } else {
    const problems = formatProblems(results);
    process.stdout.write(`${formatTable(results)}\n`);
    if (problems.length > 0) process.stdout.write(`\n${problems.join('\n')}\n`);
  }
  return allCaught ? EXIT_ALL_CAUGHT : EXIT_SOME_MISSED;
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.exitCode = setupError(error instanceof Error ? error.message : String(error));
    },
  );
}
