import { electionRace } from './election.js';
import { indexSearch } from './index-search.js';
import { indexSearchBaseline } from './index-search-baseline.js';
import { ipcLoad } from './ipc-load.js';
import { searchQuality } from './search-quality.js';
import { serveStress, serveTakeover } from './serve.js';
import { strategyCosts } from './strategy-costs.js';
import { strategyLatency } from './strategy-latency.js';
import { swarmVersusDefault } from './swarm.js';
import { testerBaseline } from './tester-baseline.js';
import { testerCost, timeToMinimalTrace } from './tester-cost.js';
import { workersScaling } from './workers-scaling.js';

/**
 * `npm run bench` (build, then `node dist/bench/run.js [SECTION...]`): runs every section, or the
 * named ones. A section prints its own table; a failing section is reported and the others still
 * run, and the exit code is then 1. Add a section by adding it to SECTIONS.
 */

export interface BenchSection {
  readonly name: string;
  readonly description: string;
  run(): Promise<void>;
}

export const SECTIONS: readonly BenchSection[] = [
  {
    name: 'index-search',
    description: 'indexing chunks/s and vector/bm25/hybrid search p50/p95 at ~10k and ~100k chunks',
    run: indexSearch,
  },
  {
    name: 'index-search-vs-baseline',
    description:
      'indexing chunks/s and search p50 per mode at 100k chunks, this checkout next to the commit before issue 13, side by side',
    run: indexSearchBaseline,
  },
  {
    name: 'search-quality',
    description: 'hit@1, hit@3, MRR per mode on labelled queries (this repo, a generated one), with baseline',
    run: searchQuality,
  },
  {
    name: 'tester-cost',
    description: 'cost of one tester run next to the same commands run in-process',
    run: () => testerCost(),
  },
  {
    name: 'tester-baseline',
    description:
      'embecode-stress run runs/s and CPU per run next to an older built tree (BENCH_BASELINE_TREE), alternating',
    run: () => testerBaseline(),
  },
  {
    name: 'minimal-trace',
    description: 'readonly-direct: time from start to a printed minimal trace',
    run: () => timeToMinimalTrace(),
  },
  {
    name: 'strategy-latency',
    description: 'ipc: a search through the owner next to the same search in the owner process',
    run: strategyLatency,
  },
  {
    name: 'ipc-load',
    description:
      'the owner socket under 128 idle + 20 flooding clients: a well-behaved client p50/p99, owner RSS, fds',
    run: ipcLoad,
  },
  {
    name: 'strategy-costs',
    description: 'each access strategy: reader latency, write throughput, staleness, lock conflicts',
    run: strategyCosts,
  },
  {
    name: 'workers',
    description: 'stress tester runs/s with 1 and 2 worker processes',
    run: () => workersScaling(),
  },
  {
    name: 'swarm',
    description: 'seeded bugs caught, and seconds to catch each, with swarm and with --no-swarm',
    run: swarmVersusDefault,
  },
  {
    name: 'serve-takeover',
    description: 'embecode serve: owner SIGKILL to a new owner, and to the first search it answers',
    run: serveTakeover,
  },
  {
    name: 'serve-stress',
    description: 'embecode-stress run --target serve --faults: 1,000 runs, leaked processes and dirs',
    run: serveStress,
  },
  {
    name: 'election',
    description: 'owner election races and takeover after SIGKILL, exactly one owner each round',
    run: electionRace,
  },
];

async function main(argv: readonly string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log('usage: node dist/bench/run.js [SECTION...]\n\nsections:');
    for (const s of SECTIONS) console.log(`  ${s.name.padEnd(18)}${s.description}`);
    return 0;
  }
  const unknown = argv.filter((name) => !SECTIONS.some((s) => s.name === name));
  if (unknown.length > 0) {
    console.error(
      `bench: unknown section ${unknown.join(', ')}; sections: ${SECTIONS.map((s) => s.name).join(', ')}`,
    );
    return 2;
  }
  const chosen = argv.length === 0 ? SECTIONS : SECTIONS.filter((s) => argv.includes(s.name));
  let failed = 0;
  for (const section of chosen) {
    console.log(`\n== ${section.name}: ${section.description}`);
    const start = performance.now();
    try {
      await section.run();
      console.log(`(${section.name}: ${((performance.now() - start) / 1000).toFixed(1)} s)`);
    } catch (error) {
      failed++;
      console.error(
        `bench: section ${section.name} failed: ${error instanceof Error ? error.stack : String(error)}`,
      );
    }
  }
  return failed === 0 ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));
