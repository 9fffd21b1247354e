import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';
import { LOCK_FILE } from '../src/election/election.js';
import { procWriteLockHolders } from '../src/election/proc-locks.js';
import { percentile } from './stats.js';
import {
  type Candidate,
  type CandidateLine,
  nowMs,
  startCandidate,
  stopAllCandidates,
} from './support/election-candidates.js';

/**
 * Owner election under fire, with real processes on real lock files (dist/helpers/election-candidate.js):
 * 1. races of 3 candidates that were started once and are told `go` at the same instant (the tight
 *    race: no process start-up between them; the spread printed is between their decisions, which
 *    includes the winner's ~15 ms open), up to 500 or a time budget;
 * 2. races of 3 freshly started processes (the realistic case: tools launched together), as many as
 *    fit in a smaller budget;
 * 3. takeover after SIGKILL: an owner and 3 watching readers; the owner is SIGKILLed and the time to
 *    the first takeover is measured, 50 times.
 * Each round checks "exactly one owner": exactly one process says so, and the kernel's lock table
 * names that process as the only holder. Budgets: BENCH_ELECTION_BUDGET_S (total, default 120).
 */

const READERS = 3;
const INTERVAL_MS = 50;
const SETTLE_MS = 10 * INTERVAL_MS;

const isOwner = (line: CandidateLine) => line.role === 'owner';

/** Exactly one line says owner, and (where the kernel's table is readable) it is the only holder. */
async function exactlyOneOwner(dir: string, lines: readonly CandidateLine[]): Promise<boolean> {
  const owners = lines.filter(isOwner);
  if (owners.length !== 1) return false;
  const holders = await procWriteLockHolders(join(dir, LOCK_FILE));
  return holders === undefined || (holders.length === 1 && holders[0] === owners[0]?.pid);
}

interface RaceStats {
  readonly rounds: number;
  readonly exactlyOne: number;
  readonly seconds: number;
  /** Per round, the spread between the first and the last decision, ms. */
  readonly spread: number[];
}

async function preStartedRaces(base: string, maxRounds: number, budgetMs: number): Promise<RaceStats> {
  const candidates = Array.from({ length: READERS }, () => startCandidate(['--rounds']));
  await Promise.all(candidates.map((c) => c.waitLine((l) => l.role === 'ready', { timeoutMs: 30_000 })));
  const reused = join(base, 'pre-reused');
  const started = performance.now();
  let rounds = 0;
  let exactlyOne = 0;
  const spread: number[] = [];
  while (rounds < maxRounds && performance.now() - started < budgetMs) {
    const dir = rounds % 2 === 0 ? join(base, `pre-${rounds}`) : reused;
    const answers = candidates.map((c) => c.waitLine(() => true, { from: c.lines.length }));
    for (const c of candidates) c.send(`go ${dir}`);
    const lines = await Promise.all(answers);
    if (await exactlyOneOwner(dir, lines)) exactlyOne++;
    const ats = lines.map((l) => l.at);
    spread.push(Math.max(...ats) - Math.min(...ats));
    const released = candidates.map((c) => c.waitLine(() => true, { from: c.lines.length }));
    for (const c of candidates) c.send('release');
    await Promise.all(released);
    if (dir !== reused) rmSync(dir, { recursive: true, force: true });
    rounds++;
  }
  await Promise.all(candidates.map((c) => c.stop()));
  return { rounds, exactlyOne, seconds: (performance.now() - started) / 1000, spread };
}

async function freshRaces(base: string, maxRounds: number, budgetMs: number): Promise<RaceStats> {
  const started = performance.now();
  let rounds = 0;
  let exactlyOne = 0;
  const spread: number[] = [];
  while (rounds < maxRounds && performance.now() - started < budgetMs) {
    const dir = join(base, `fresh-${rounds}`);
    const candidates = Array.from({ length: READERS }, () => startCandidate([dir, '--no-watch']));
    const lines = await Promise.all(candidates.map((c) => c.waitLine(() => true, { timeoutMs: 30_000 })));
    if (await exactlyOneOwner(dir, lines)) exactlyOne++;
    const ats = lines.map((l) => l.at);
    spread.push(Math.max(...ats) - Math.min(...ats));
    await Promise.all(candidates.map((c) => c.stop()));
    rmSync(dir, { recursive: true, force: true });
    rounds++;
  }
  return { rounds, exactlyOne, seconds: (performance.now() - started) / 1000, spread };
}

interface TakeoverStats {
  readonly trials: number;
  readonly exactlyOne: number;
  readonly latencies: number[];
}

async function takeovers(base: string, trials: number, budgetMs: number): Promise<TakeoverStats> {
  const dir = join(base, 'takeover');
  const start = (): Candidate => startCandidate([dir, '--interval-ms', String(INTERVAL_MS)]);
  let owner = start();
  if ((await owner.waitLine(() => true, { timeoutMs: 30_000 })).role !== 'owner') {
    throw new Error('the first candidate did not become owner');
  }
  let readers = Array.from({ length: READERS }, start);
  await Promise.all(readers.map((r) => r.waitLine(() => true, { timeoutMs: 30_000 })));
  const started = performance.now();
  const latencies: number[] = [];
  let exactlyOne = 0;
  let done = 0;
  while (done < trials && performance.now() - started < budgetMs) {
    const before = readers.map((r) => r.lines.filter(isOwner).length);
    const from = readers.map((r) => r.lines.length);
    const killedAt = nowMs();
    await owner.kill('SIGKILL');
    const first = await Promise.any(
      readers.map((r, i) => r.waitLine(isOwner, { from: from[i], timeoutMs: 10_000 })),
    );
    latencies.push(first.at - killedAt);
    // The next trial's third reader starts while this one settles.
    const fresh = start();
    await sleep(SETTLE_MS);
    const takeoversSeen = readers.reduce(
      (sum, r, i) => sum + r.lines.filter(isOwner).length - (before[i] ?? 0),
      0,
    );
    const holders = await procWriteLockHolders(join(dir, LOCK_FILE));
    if (
      takeoversSeen === 1 &&
      (holders === undefined || (holders.length === 1 && holders[0] === first.pid))
    ) {
      exactlyOne++;
    }
    const winner = readers.find((r) => r.pid === first.pid) as Candidate;
    await fresh.waitLine(() => true, { timeoutMs: 30_000 });
    readers = [...readers.filter((r) => r !== winner), fresh];
    owner = winner;
    done++;
  }
  await Promise.all([owner, ...readers].map((c) => c.stop()));
  return { trials: done, exactlyOne, latencies };
}

const ms = (value: number) => `${value.toFixed(1)} ms`;

export async function electionRace(): Promise<void> {
  const budgetMs = Number(process.env.BENCH_ELECTION_BUDGET_S ?? 120) * 1000;
  const base = mkdtempSync(join(tmpdir(), 'embecode-bench-election-'));
  try {
    // Takeovers keep 35% of the budget; fresh-process races get whatever the tight races leave.
    const started = performance.now();
    const pre = await preStartedRaces(base, 500, budgetMs * 0.45);
    const fresh = await freshRaces(base, 500, budgetMs * 0.65 - (performance.now() - started));
    const take = await takeovers(base, 50, budgetMs * 0.35);
    console.log('\n### Owner election (3 racing candidates, real processes, DuckDB lock file)\n');
    console.log('| scenario | rounds | exactly one owner | time | notes |');
    console.log('|---|---|---|---|---|');
    console.log(
      `| race, pre-started candidates told \`go\` together | ${pre.rounds} | ${pre.exactlyOne}/${pre.rounds} | ${pre.seconds.toFixed(1)} s | decisions spread p50 ${ms(percentile(pre.spread, 0.5))}, max ${ms(percentile(pre.spread, 1))} |`,
    );
    console.log(
      `| race, 3 fresh processes started together | ${fresh.rounds} | ${fresh.exactlyOne}/${fresh.rounds} | ${fresh.seconds.toFixed(1)} s | decisions spread p50 ${ms(percentile(fresh.spread, 0.5))}, max ${ms(percentile(fresh.spread, 1))} |`,
    );
    console.log(
      `| takeover after SIGKILL, ${READERS} readers polling every ${INTERVAL_MS} ms | ${take.trials} | ${take.exactlyOne}/${take.trials} | | latency p50 ${ms(percentile(take.latencies, 0.5))}, p95 ${ms(percentile(take.latencies, 0.95))}, max ${ms(percentile(take.latencies, 1))} |`,
    );
    console.log(
      `\nrace rounds in total: ${pre.rounds + fresh.rounds}; takeover latency is from the parent's kill() to the winner's own timestamp.`,
    );
  } finally {
    await stopAllCandidates();
    rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await electionRace();
}
