import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { execa } from 'execa';
import { packageRoot } from '../src/process/children.js';
import { percentile } from './stats.js';

/**
 * This tree's `embecode-stress run` next to another built tree's (an older commit), same strategy,
 * same seeds, same runs, alternating so the machine's load hits both alike. The target
 * compares today's tester (oracle, intruder, two reader processes) with the one before them:
 *
 *   git clone . /tmp/base && git -C /tmp/base checkout fc26f43 && (cd /tmp/base && npm ci && npm run build)
 *   BENCH_BASELINE_TREE=/tmp/base npm run bench -- tester-baseline
 *
 * CPU is the whole process tree's (the CLI and every child it waited for: /proc/self/stat's
 * cutime + cstime before and after), so the owner, reader and intruder children count.
 *
 * Each sample includes what a check pays once: starting its children (today's tester starts four,
 * fc26f43's one) and its first runs' warm-up. BENCH_BASELINE_STEADY=1 also runs the first fifth
 * of each sample's runs alone, same seed (so the same runs), and reports the cost of the rest
 * from the difference: what each further run of a long check costs, the nightly's case.
 */
export async function testerBaseline(
  baseTree = process.env.BENCH_BASELINE_TREE,
  strategy = process.env.BENCH_BASELINE_STRATEGY ?? 'ipc',
  runs = Number(process.env.BENCH_BASELINE_RUNS ?? 100),
  pairs = Number(process.env.BENCH_BASELINE_PAIRS ?? 3),
): Promise<void> {
  if (baseTree === undefined || baseTree === '') {
    throw new Error(
      'tester-baseline needs BENCH_BASELINE_TREE=<a built checkout of the older commit> (see bench/tester-baseline.ts)',
    );
  }
  const trees = { baseline: resolve(baseTree), current: packageRoot() };
  for (const tree of Object.values(trees)) {
    if (!existsSync(cliOf(tree))) throw new Error(`no built CLI at ${cliOf(tree)}; run npm run build there`);
  }
  const rows = { baseline: [] as Sample[], current: [] as Sample[] };
  const heads = { baseline: [] as Sample[], current: [] as Sample[] };
  const steady = process.env.BENCH_BASELINE_STEADY === '1';
  const headRuns = Math.max(1, Math.floor(runs / 5));
  const loads: number[] = [loadavg()[0] ?? 0];
  for (let pair = 0; pair < pairs; pair++) {
    const seed = 60 + pair;
    const order = pair % 2 === 0 ? (['baseline', 'current'] as const) : (['current', 'baseline'] as const);
    for (const which of order) {
      rows[which].push(await runOnce(cliOf(trees[which]), strategy, runs, seed));
      if (steady) heads[which].push(await runOnce(cliOf(trees[which]), strategy, headRuns, seed));
      loads.push(loadavg()[0] ?? 0);
    }
  }
  const summary = (xs: Sample[]) => {
    const rates = xs.map((x) => runs / x.wallS);
    const cpu = xs.map((x) => (x.cpuS * 1000) / runs);
    const mean = (ys: number[]) => ys.reduce((a, b) => a + b, 0) / ys.length;
    return { rates, cpu, rate: mean(rates), cpuPerRun: mean(cpu) };
  };
  const base = summary(rows.baseline);
  const current = summary(rows.current);
  console.log(
    `\n## Tester cost against ${trees.baseline}: ${strategy}, ${runs} runs, seeds 60-${59 + pairs}, ${pairs} alternating pairs`,
  );
  console.log('| tree | runs/s (each) | mean runs/s | CPU ms/run (each) | mean CPU ms/run |');
  console.log('|---|---|---|---|---|');
  for (const [name, s] of [
    ['baseline', base],
    ['current', current],
  ] as const) {
    console.log(
      `| ${name} | ${s.rates.map((r) => r.toFixed(2)).join(', ')} | ${s.rate.toFixed(2)} | ${s.cpu.map((c) => c.toFixed(0)).join(', ')} | ${s.cpuPerRun.toFixed(0)} |`,
    );
  }
  if (steady) {
    // Per run of runs headRuns+1..runs: the whole sample minus its head, pair by pair.
    const rest = (which: 'baseline' | 'current') => {
      const tails = rows[which].map((full, i) => ({
        wallS: full.wallS - (heads[which][i]?.wallS ?? 0),
        cpuS: full.cpuS - (heads[which][i]?.cpuS ?? 0),
      }));
      const n = runs - headRuns;
      const mean = (ys: number[]) => ys.reduce((a, b) => a + b, 0) / ys.length;
      return {
        msPerRun: mean(tails.map((t) => (t.wallS * 1000) / n)),
        cpuMsPerRun: mean(tails.map((t) => (t.cpuS * 1000) / n)),
      };
    };
    const b = rest('baseline');
    const c = rest('current');
    console.log(
      `steady state (runs ${headRuns + 1}-${runs}, start-up left out): baseline ${b.msPerRun.toFixed(0)} ms and ${b.cpuMsPerRun.toFixed(0)} ms CPU per run, current ${c.msPerRun.toFixed(0)} and ${c.cpuMsPerRun.toFixed(0)}: time per run ${(c.msPerRun / b.msPerRun).toFixed(2)}x, CPU per run ${(c.cpuMsPerRun / b.cpuMsPerRun).toFixed(2)}x`,
    );
  }
  const sortedLoads = [...loads].sort((a, b) => a - b);
  console.log(
    `cost current/baseline: time per run ${(base.rate / current.rate).toFixed(2)}x (target <= 1.5x), CPU per run ${(current.cpuPerRun / base.cpuPerRun).toFixed(2)}x; 1-min load ${sortedLoads[0]?.toFixed(1)}-${sortedLoads.at(-1)?.toFixed(1)} (p50 ${percentile(sortedLoads, 0.5).toFixed(1)}) on ${navigatorCores()} cores`,
  );
}

interface Sample {
  readonly wallS: number;
  readonly cpuS: number;
}

function cliOf(tree: string): string {
  return join(tree, 'dist', 'src', 'cli', 'embecode-stress.js');
}

function navigatorCores(): number {
  return readFileSync('/proc/cpuinfo', 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('processor')).length;
}

/** User + system seconds of every child this process has waited for, so far. */
function childrenCpuS(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // Fields after the name start at state (3rd); cutime and cstime are the 16th and 17th.
  const ticks = Number(fields[13]) + Number(fields[14]);
  // USER_HZ, which Linux fixes at 100 for /proc.
  return ticks / 100;
}

async function runOnce(cli: string, strategy: string, runs: number, seed: number): Promise<Sample> {
  const tmp = mkdtempSync(join(tmpdir(), 'embecode-bench-base-'));
  try {
    const cpuBefore = childrenCpuS();
    const started = performance.now();
    const run = await execa(
      process.execPath,
      [cli, 'run', '--strategy', strategy, '--runs', String(runs), '--seed', String(seed), '--json'],
      { reject: false, env: { TMPDIR: tmp, STRESS_ARTIFACTS: join(tmp, 'artifacts') }, cwd: tmp },
    );
    const wallS = (performance.now() - started) / 1000;
    const summary = JSON.parse(run.stdout) as { status?: string };
    if (summary.status !== 'passed') {
      throw new Error(
        `${cli} ${strategy} seed ${seed} did not pass (${summary.status}): ${run.stderr.slice(-300)}`,
      );
    }
    return { wallS, cpuS: childrenCpuS() - cpuBefore };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}
