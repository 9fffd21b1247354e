import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { LOCK_FILE } from '../src/election/election.js';
import { procWriteLockHolders } from '../src/election/proc-locks.js';
import { IpcClient } from '../src/ipc/client.js';
import { projectStateDir } from '../src/serve/paths.js';
import { runStress } from '../src/tester/harness.js';
import { formatSummary } from '../src/tester/report.js';
import { isRoleEvent, liveServeChildren, ServeChild } from '../src/tester/serve/serve-child.js';
import { percentile } from './stats.js';

/**
 * `embecode serve` takeover, end to end, with real serve processes on a small project: an owner and
 * a reader; the owner is SIGKILLed, and two times are taken from the kill on: until the kernel's
 * lock table shows one surviving serve holding both the election lock and the index (the new
 * owner), and until the first search sent through the survivor's own socket right after the kill
 * is answered (a reader forwards it and, with no owner left, waits for its own promotion, so the
 * answer is the new owner's). Then a fresh reader is started for the next round.
 * Rounds: BENCH_SERVE_ROUNDS (default 20).
 */
export async function serveTakeover(): Promise<void> {
  const rounds = Number(process.env.BENCH_SERVE_ROUNDS ?? 20);
  const base = mkdtempSync(join(tmpdir(), 'embecode-bench-serve-'));
  const dir = join(base, 'project');
  const db = join(base, 'index.db');
  for (let i = 0; i < 20; i++) {
    const path = join(dir, `src/m${i}.ts`);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(
      path,
      `export function handler${i}(input: string): string {\n  return input + '${i}';\n}\n`,
    );
  }
  const lock = join(projectStateDir(db), LOCK_FILE);
  const started: ServeChild[] = [];
  const start = () => {
    const child = new ServeChild({ dir, db });
    started.push(child);
    return child;
  };
  const toOwner: number[] = [];
  const toAnswer: number[] = [];
  try {
    let owner = start();
    await owner.waitEvent('owner role', isRoleEvent('owner'), 0, 60_000);
    await owner.waitEvent('first catch-up', (e) => e.event === 'indexed', 0, 60_000);
    for (let round = 0; round < rounds; round++) {
      const reader = start();
      const role = await reader.waitEvent('reader role', isRoleEvent('reader'), 0, 60_000);
      const client = new IpcClient(role.socket as string, { connectTimeoutMs: 5_000 });
      await client.connect();
      const killedAt = performance.now();
      owner.kill('SIGKILL');
      const answered = client.search('handler7', { mode: 'bm25', topK: 3 }, 30_000).then(() => {
        toAnswer.push(performance.now() - killedAt);
      });
      for (;;) {
        const [electionHolders, indexHolders] = await Promise.all([
          procWriteLockHolders(lock),
          procWriteLockHolders(db),
        ]);
        if (electionHolders?.[0] === reader.pid && indexHolders?.[0] === reader.pid) break;
        if (performance.now() - killedAt > 30_000)
          throw new Error(`round ${round}: no new owner within 30 s`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      toOwner.push(performance.now() - killedAt);
      await answered;
      await client.close();
      await owner.exited;
      owner = reader;
    }
  } finally {
    for (const child of started) child.kill('SIGKILL');
    await Promise.all(started.map((c) => c.exited));
    rmSync(base, { recursive: true, force: true });
  }
  const row = (name: string, ms: number[]) =>
    `| ${name} | ${ms.length} | ${percentile(ms, 0.5).toFixed(0)} | ${percentile(ms, 0.95).toFixed(0)} | ${Math.max(...ms).toFixed(0)} |`;
  console.log('| from owner SIGKILL to | rounds | p50 ms | p95 ms | max ms |');
  console.log('|---|---|---|---|---|');
  console.log(row('a new owner holding election lock and index (/proc/locks)', toOwner));
  console.log(row('the first search answered by the new owner', toAnswer));
  console.log(`serve children left: ${liveServeChildren()}`);
}

/**
 * `embecode-stress run --target serve --faults`, BENCH_SERVE_RUNS runs (default 1000; they take
 * seconds each), then whether any serve process or run directory outlived it.
 */
export async function serveStress(): Promise<void> {
  const runs = Number(process.env.BENCH_SERVE_RUNS ?? 1000);
  const seed = Number(process.env.BENCH_SERVE_SEED ?? 1);
  const leftovers = () => readdirSync(tmpdir()).filter((n) => n.startsWith('embecode-stress-serve-'));
  const before = new Set(leftovers());
  const summary = await runStress(
    { strategy: 'ipc', target: 'serve', faults: true, runs, seed, maxCommands: 12 },
    { artifacts: false },
  );
  console.log(formatSummary(summary));
  console.log(
    `serve children left: ${liveServeChildren()}; run directories left: ${leftovers().filter((d) => !before.has(d)).length}`,
  );
  if (summary.status !== 'passed') throw new Error(`serve stress ${summary.status}`);
}
