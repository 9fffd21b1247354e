import { runWorkers } from '../src/tester/workers.js';

/**
 * Runs/s of the stress tester with 1 and with 2 worker processes, same strategy, same total
 * runs, alternating so machine noise hits both. Each worker is a whole `embecode-stress run`
 * process with its own owner child, so start-up is part of the cost, as it is for users.
 */
export async function workersScaling(
  strategy = process.env.BENCH_WORKERS_STRATEGY ?? 'ipc',
  runs = Number(process.env.BENCH_WORKERS_RUNS ?? 600),
  rounds = 2,
): Promise<void> {
  const rates: Record<1 | 2, number[]> = { 1: [], 2: [] };
  for (let round = 0; round < rounds; round++) {
    for (const workers of round % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
      const started = performance.now();
      const summary = await runWorkers({ strategy, runs, seed: 1000 + round, maxCommands: 12 }, workers);
      const seconds = (performance.now() - started) / 1000;
      if (summary.status !== 'passed') throw new Error(`${strategy} did not pass: ${summary.status}`);
      rates[workers].push(summary.runs / seconds);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  console.log(`\n## Workers: ${strategy}, ${runs} runs per measurement, ${rounds} rounds, alternating`);
  console.log('| workers | runs/s (each round) | mean runs/s |');
  console.log('|---|---|---|');
  for (const w of [1, 2] as const) {
    console.log(`| ${w} | ${rates[w].map((r) => r.toFixed(1)).join(', ')} | ${mean(rates[w]).toFixed(1)} |`);
  }
  console.log(`scaling 2 vs 1: ${(mean(rates[2]) / mean(rates[1])).toFixed(2)}x (target >= 1.8x)`);
}
