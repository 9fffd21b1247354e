import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type fc from 'fast-check';
import { OwnerClient } from '../src/child-protocol/owner-client.js';
import { OwnerService } from '../src/child-protocol/owner-service.js';
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { getStrategy } from '../src/strategies/registry.js';
import {
  OwnerCheckpoint,
  OwnerDelete,
  OwnerRelease,
  OwnerWrite,
} from '../src/tester/commands/owner-commands.js';
import { ReaderClose, ReaderOpen, ReaderSearch } from '../src/tester/commands/reader-commands.js';
import { spec } from '../src/tester/content.js';
import { executeRun } from '../src/tester/harness.js';
import type { StressModel } from '../src/tester/model.js';
import type { OwnerHandle, StressWorld } from '../src/tester/world.js';
import { percentile } from './stats.js';

/**
 * What one tester run costs next to the raw DuckDB work it causes. The same fixed 10-command
 * sequence runs (a) through the tester's machinery with a real owner child and (b) with the owner
 * service called in this process: no child, no pipe (the floor). Runs alternate between the two so
 * the machine's noise hits both alike.
 */

type Command = fc.AsyncCommand<StressModel, StressWorld>;

/** Writes, a replace, a delete, a checkpoint, a release, then the reader opens, searches and closes. */
function fixedSequence(): Command[] {
  return [
    new OwnerWrite([{ slot: 0, spec: spec(3), suffix: 'a' }]),
    new OwnerWrite([{ slot: 1, spec: spec(3), suffix: 'b' }]),
    new OwnerCheckpoint(),
    new OwnerWrite([{ slot: 0, spec: spec(2), suffix: 'c' }]),
    new OwnerDelete(1),
    new OwnerRelease(),
    new ReaderOpen(0),
    new ReaderSearch(0, { mode: 'bm25', query: { kind: 'token', pick: 0 }, topK: 10, prefix: 0 }),
    new ReaderSearch(0, { mode: 'hybrid', query: { kind: 'token', pick: 1 }, topK: 10, prefix: 0 }),
    new ReaderClose(0),
  ];
}

function inProcessOwner(service: OwnerService): OwnerHandle {
  let id = 0;
  return {
    pid: process.pid,
    request: (op, args) => service.handle({ id: id++, op, ...(args ? { args } : {}) }),
  };
}

export async function testerCost(runs = Number(process.env.BENCH_TESTER_RUNS ?? 60)): Promise<void> {
  const strategy = getStrategy('readonly-direct');
  const embedder = createDefaultEmbedder();
  const base = mkdtempSync(join(tmpdir(), 'embecode-bench-tester-'));
  const child = await OwnerClient.start(strategy.name);
  const service = new OwnerService(strategy, embedder);
  const floorOwner = inProcessOwner(service);
  const times = { tester: [] as number[], floor: [] as number[] };
  try {
    let n = 0;
    const once = async (kind: 'tester' | 'floor') => {
      const dir = join(base, `run-${n++}`);
      mkdirSync(dir);
      const started = performance.now();
      const reader = strategy.createReader({ dbPath: join(dir, 'index.db'), workDir: dir, embedder });
      await executeRun(
        {
          strategy,
          embedder,
          owner: kind === 'tester' ? child : floorOwner,
          dir,
          readers: [reader],
          stepDeadlineMs: 60_000,
        },
        fixedSequence(),
      );
      times[kind].push(performance.now() - started);
      rmSync(dir, { recursive: true, force: true });
    };
    // Warm-up: JIT, DuckDB's first open, the child's first requests.
    for (let i = 0; i < 5; i++) {
      await once('tester');
      await once('floor');
    }
    times.tester.length = 0;
    times.floor.length = 0;
    for (let i = 0; i < runs; i++) {
      await once(i % 2 === 0 ? 'tester' : 'floor');
      await once(i % 2 === 0 ? 'floor' : 'tester');
    }
  } finally {
    await service.close();
    await child.stop();
    rmSync(base, { recursive: true, force: true });
  }
  const row = (name: string, xs: number[]) => {
    const sorted = [...xs].sort((a, b) => a - b);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    return { name, p50: percentile(sorted, 0.5), mean, runsPerS: 1000 / mean };
  };
  const tester = row('tester (owner child)', times.tester);
  const floor = row('floor (in-process)', times.floor);
  console.log(`\n## Tester cost: fixed 10-command sequence, ${runs} runs each, interleaved`);
  console.log('| variant | ms/run p50 | ms/run mean | runs/s |');
  console.log('|---|---|---|---|');
  for (const r of [tester, floor]) {
    console.log(`| ${r.name} | ${r.p50.toFixed(1)} | ${r.mean.toFixed(1)} | ${r.runsPerS.toFixed(1)} |`);
  }
  console.log(
    `ratio tester/floor: p50 ${(tester.p50 / floor.p50).toFixed(3)}x, mean ${(tester.mean / floor.mean).toFixed(3)}x (target <= 1.15x)`,
  );
}

/** Wall time from `embecode-stress run` starting to its minimal trace printed, for readonly-direct. */
export async function timeToMinimalTrace(samples = 5): Promise<void> {
  const { execa } = await import('execa');
  const { packageRoot } = await import('../src/process/children.js');
  const cli = join(packageRoot(), 'dist', 'src', 'cli', 'embecode-stress.js');
  const results: { ms: number; steps: number }[] = [];
  for (let seed = 1; seed <= samples; seed++) {
    const tmp = mkdtempSync(join(tmpdir(), 'embecode-bench-trace-'));
    try {
      const started = performance.now();
      const run = await execa(
        process.execPath,
        [cli, 'run', '--strategy', 'readonly-direct', '--runs', '100', '--seed', String(seed), '--json'],
        { reject: false, env: { TMPDIR: tmp } },
      );
      const ms = performance.now() - started;
      const summary = JSON.parse(run.stdout) as { counterexample?: { steps: unknown[] } };
      results.push({ ms, steps: summary.counterexample?.steps.length ?? -1 });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }
  const sorted = results.map((r) => r.ms).sort((a, b) => a - b);
  console.log(`\n## readonly-direct: start to printed minimal trace (whole CLI process, ${samples} seeds)`);
  console.log(
    `p50 ${percentile(sorted, 0.5).toFixed(0)} ms, max ${sorted.at(-1)?.toFixed(0)} ms (target < 3000 ms)`,
  );
  console.log(`minimal trace lengths: ${results.map((r) => r.steps).join(', ')} (target <= 2)`);
}
