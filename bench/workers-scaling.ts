import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import type { ProcessTimes, RunProfile } from '../src/tester/process-profile.js';
import { runWorkers } from '../src/tester/workers.js';

/**
 * Runs/s of the stress tester with 1 and with 2 worker processes, same strategy, same total
 * runs, alternating so machine noise hits both. Each worker is a whole `embecode-stress run`
 * process with its own owner child, so start-up is part of the cost, as it is for users.
 *
 * Runs/s alone cannot say why 2 workers are not twice as fast on 2 cores, least of all on a
 * machine other jobs share. So every worker reports where its time went (STRESS_PROFILE=1,
 * src/tester/process-profile.ts): CPU and run-queue wait of each of its processes, all threads
 * summed, and how long each main thread was blocked (waiting on another process, a disk, a
 * timer); this parent adds its own CPU and ELU, the CPU of the whole process tree (from the
 * rusage of its reaped children, which counts processes that ended too), and the machine's
 * busy time and runnable threads (/proc/stat), which is everyone's, not just ours.
 */

interface Measurement {
  readonly round: number;
  readonly workers: 1 | 2;
  /** 2 workers, each in a session of its own (BENCH_WORKERS_SESSIONS=1): not counted as `workers: 2`. */
  readonly ownSessions: boolean;
  readonly runs: number;
  readonly seconds: number;
  readonly profiles: readonly RunProfile[];
  readonly parentElu: number;
  readonly parentCpuMs: number;
  /** CPU of every process under this one that ended during the measurement (the whole tree). */
  readonly treeCpuMs: number;
  /** Fraction of all cores' time the machine was busy (every job on it, ours included). */
  readonly machineBusy: number;
  /** Runnable threads on the whole machine, sampled every 200 ms, mean. */
  readonly machineRunnable: number;
  readonly loadBefore: number;
  /** Pressure stall (PSI "some"): fraction of the time some task on the machine waited for a core, for IO. */
  readonly cpuPressure: number;
  readonly ioPressure: number;
  /** Autogroups with a runnable thread, sampled every 2 s, mean; and how often ours was one. */
  readonly activeGroups: number;
  readonly oursActive: number;
}

/** Total stall µs of PSI "some" for `resource` (/proc/pressure, Linux 4.20+), or NaN. */
function pressureUs(resource: 'cpu' | 'io'): number {
  try {
    const some = readFileSync(`/proc/pressure/${resource}`, 'utf8').split('\n')[0] ?? '';
    return Number(/total=(\d+)/.exec(some)?.[1]);
  } catch {
    return Number.NaN;
  }
}

/** The scheduler's group of a process (`/autogroup-N`, one per session when sched_autogroup_enabled is 1). */
function autogroupOf(pid: number | 'self'): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/autogroup`, 'utf8').split(' ')[0];
  } catch {
    return undefined;
  }
}

function autogroupsEnabled(): boolean {
  try {
    return readFileSync('/proc/sys/kernel/sched_autogroup_enabled', 'utf8').trim() === '1';
  } catch {
    return false;
  }
}

/**
 * Autogroups with a thread running or runnable now (this sampling process left out). With
 * autogroups on, a saturated CFS shares the cores between these, not between threads: a session
 * with one runnable thread gets as much as a session with ten.
 */
function activeAutogroups(): Set<string> {
  const active = new Set<string>();
  let entries: string[] = [];
  try {
    entries = readdirSync('/proc').filter((e) => /^\d+$/.test(e) && Number(e) !== process.pid);
  } catch {
    return active;
  }
  for (const pid of entries) {
    let tasks: string[];
    try {
      tasks = readdirSync(`/proc/${pid}/task`);
    } catch {
      continue;
    }
    const running = tasks.some((task) => {
      try {
        const raw = readFileSync(`/proc/${pid}/task/${task}/stat`, 'utf8');
        return raw[raw.lastIndexOf(')') + 2] === 'R';
      } catch {
        return false;
      }
    });
    if (!running) continue;
    const group = autogroupOf(Number(pid));
    if (group !== undefined) active.add(group);
  }
  return active;
}

/** /proc/stat: busy and total jiffies of all CPUs, and runnable threads now. */
function machineTimes(): { busy: number; total: number; runnable: number } | undefined {
  try {
    const lines = readFileSync('/proc/stat', 'utf8').split('\n');
    const fields = (lines[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
    const idle = (fields[3] ?? 0) + (fields[4] ?? 0);
    const total = fields.reduce((a, b) => a + b, 0);
    const running = Number(lines.find((l) => l.startsWith('procs_running'))?.split(/\s+/)[1]);
    return { busy: total - idle, total, runnable: running };
  } catch {
    return undefined;
  }
}

function loadAverage(): number {
  try {
    return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
  } catch {
    return Number.NaN;
  }
}

/** CPU ms of this process's reaped children (cutime + cstime of /proc/self/stat). */
function reapedChildrenCpuMs(): number {
  try {
    const raw = readFileSync('/proc/self/stat', 'utf8');
    const fields = raw.slice(raw.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[13]) + Number(fields[14])) * 10;
  } catch {
    return Number.NaN;
  }
}

async function measure(
  strategy: string,
  runs: number,
  round: number,
  workers: 1 | 2,
  ownSessions = false,
): Promise<Measurement> {
  const loadBefore = loadAverage();
  const machineBefore = machineTimes();
  const treeBefore = reapedChildrenCpuMs();
  const pressureBefore = { cpu: pressureUs('cpu'), io: pressureUs('io') };
  const runnable: number[] = [];
  const groups: number[] = [];
  const oursActive: number[] = [];
  const ours = autogroupOf('self');
  let ticks = 0;
  const sampler = setInterval(() => {
    const now = machineTimes();
    if (now !== undefined) runnable.push(now.runnable);
    if (ticks++ % 10 === 0 && ours !== undefined) {
      const active = activeAutogroups();
      groups.push(active.size);
      oursActive.push(active.has(ours) ? 1 : 0);
    }
  }, 200);
  const eluBefore = performance.eventLoopUtilization();
  const cpuBefore = process.cpuUsage();
  const started = performance.now();
  const summary = await runWorkers(
    { strategy, runs, seed: 1000 + round, maxCommands: 12 },
    workers,
    { STRESS_PROFILE: '1' },
    { ownSessions },
  ).finally(() => clearInterval(sampler));
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  const machineAfter = machineTimes();
  if (summary.status !== 'passed') {
    const why = summary.counterexample?.error ?? summary.reason ?? 'no reason given';
    const replay = summary.counterexample?.replayCommand ?? '';
    throw new Error(
      `${strategy} seed ${1000 + round}, ${workers} worker(s) did not pass: ${summary.status}: ${why} ${replay}`,
    );
  }
  const machineBusy =
    machineBefore === undefined || machineAfter === undefined
      ? Number.NaN
      : (machineAfter.busy - machineBefore.busy) / Math.max(1, machineAfter.total - machineBefore.total);
  return {
    round,
    workers,
    ownSessions,
    runs: summary.runs,
    seconds,
    profiles: summary.profiles ?? [],
    parentElu: performance.eventLoopUtilization(eluBefore).utilization,
    parentCpuMs: (cpu.user + cpu.system) / 1000,
    treeCpuMs: reapedChildrenCpuMs() - treeBefore,
    machineBusy,
    machineRunnable: mean(runnable),
    loadBefore,
    activeGroups: mean(groups),
    oursActive: mean(oursActive),
    cpuPressure: (pressureUs('cpu') - pressureBefore.cpu) / 1e6 / seconds,
    ioPressure: (pressureUs('io') - pressureBefore.io) / 1e6 / seconds,
  };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
const sum = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0);

/** The processes of every worker with `role`. */
function ofRole(m: Measurement, role: string): ProcessTimes[] {
  return m.profiles.flatMap((p) => p.processes.filter((x) => x.role === role));
}

const ROLES = ['tester', 'owner', 'reader', 'intruder'] as const;

/** Threads of ours running or waiting for a core, on average: (CPU + run-queue wait) / wall. */
function oursRunnable(m: Measurement): number {
  const ms = sum(m.profiles.flatMap((p) => p.processes.map((x) => x.cpuMs + x.runqueueWaitMs)));
  return ms / 1000 / m.seconds;
}

/** ms per run of `pick` summed over every process of `role` in every worker. */
function perRun(m: Measurement, role: string, pick: (p: ProcessTimes) => number): number {
  return sum(ofRole(m, role).map(pick)) / m.runs;
}

function row(m: Measurement): string {
  const cpu = ROLES.map((r) => perRun(m, r, (p) => p.cpuMs));
  const ended = sum(m.profiles.map((p) => p.endedChildrenCpuMs)) / m.runs;
  const total = sum(cpu) + ended + m.parentCpuMs / m.runs;
  const wait = ROLES.map((r) => perRun(m, r, (p) => p.runqueueWaitMs));
  // Wall time of one run in one worker: each worker does runs / workers of them in `seconds`.
  const wallMs = (m.seconds * 1000 * m.workers) / m.runs;
  const testerMain = ['mainCpuMs', 'mainRunqueueWaitMs', 'mainBlockedMs'] as const;
  // Summed over the workers and divided by all their runs: per run in one worker.
  const tester = testerMain.map((k) => perRun(m, 'tester', (p) => p[k]));
  const ownerMain = testerMain.map((k) => perRun(m, 'owner', (p) => p[k]));
  const checks = m.profiles.map((p) => p.checkMs / 1000);
  const startup = mean(m.profiles.map((p) => (p.uptimeMs - p.checkMs) / 1000));
  return [
    `${m.round + 1}`,
    `${m.workers}${m.ownSessions ? ', own sessions' : ''}`,
    `${m.loadBefore.toFixed(1)}`,
    `${m.machineRunnable.toFixed(1)}`,
    `${(m.machineBusy * 100).toFixed(0)}%`,
    `${(m.cpuPressure * 100).toFixed(0)}% / ${(m.ioPressure * 100).toFixed(0)}%`,
    `${m.activeGroups.toFixed(1)} (ours ${(m.oursActive * 100).toFixed(0)}%)`,
    `${(m.runs / m.seconds).toFixed(2)}`,
    `${wallMs.toFixed(0)}`,
    `${total.toFixed(0)} (${cpu.map((c) => c.toFixed(0)).join(' / ')} / ${(ended + m.parentCpuMs / m.runs).toFixed(0)})`,
    `${(m.treeCpuMs / m.runs).toFixed(0)}`,
    `${((total * m.runs) / 1000 / m.seconds).toFixed(2)}`,
    `${oursRunnable(m).toFixed(2)}`,
    `${sum(wait).toFixed(0)} (${wait.map((w) => w.toFixed(0)).join(' / ')})`,
    tester.map((t) => t.toFixed(0)).join(' / '),
    ownerMain.map((t) => t.toFixed(0)).join(' / '),
    mean(m.profiles.map((p) => p.elu)).toFixed(2),
    m.parentElu.toFixed(3),
    `${startup.toFixed(1)} s, ${checks.map((c) => c.toFixed(0)).join(' / ')} s`,
  ].join(' | ');
}

export async function workersScaling(
  strategy = process.env.BENCH_WORKERS_STRATEGY ?? 'ipc',
  runs = Number(process.env.BENCH_WORKERS_RUNS ?? 300),
  rounds = Number(process.env.BENCH_WORKERS_ROUNDS ?? 2),
  sessions = process.env.BENCH_WORKERS_SESSIONS === '1',
): Promise<void> {
  const measurements: Measurement[] = [];
  for (let round = 0; round < rounds; round++) {
    // A round whose check fails measures nothing (it stops to shrink); it is reported and skipped.
    const pair: Measurement[] = [];
    try {
      for (const workers of round % 2 === 0 ? ([1, 2] as const) : ([2, 1] as const)) {
        pair.push(await measure(strategy, runs, round, workers));
      }
      if (sessions) pair.push(await measure(strategy, runs, round, 2, true));
      measurements.push(...pair);
    } catch (error) {
      console.log(`round ${round + 1} skipped: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
  if (measurements.length === 0) throw new Error('no round passed: nothing measured');
  const cores = availableParallelism();
  console.log(
    `\n## Workers: ${strategy}, ${runs} runs per measurement, ${rounds} rounds, 1 and 2 workers alternating (${cores} cores)`,
  );
  console.log(
    [
      '| round',
      'workers',
      'load (1 min, before)',
      'runnable threads on the machine',
      'machine busy (all jobs)',
      'PSI some: CPU / IO',
      'sessions (autogroups) with a runnable thread',
      'runs/s',
      'wall ms per run in a worker',
      'CPU ms per run (tester / owner / readers / intruder / parent + ended)',
      'same, from rusage',
      'cores we kept busy',
      'our runnable threads (CPU + run queue, per second)',
      'run-queue wait ms per run, all threads (tester / owner / readers / intruder)',
      'tester main thread ms per run: CPU / run queue / blocked',
      'owner main thread ms per run: CPU / run queue / blocked',
      'worker ELU',
      'parent ELU',
      'worker start-up, check time per worker |',
    ].join(' | '),
  );
  console.log(`|${'---|'.repeat(19)}`);
  for (const m of measurements) console.log(`| ${row(m)} |`);

  const inOne = measurements.filter((m) => !m.ownSessions);
  const rate = (w: 1 | 2) => inOne.filter((m) => m.workers === w).map((m) => m.runs / m.seconds);
  const paired = Array.from({ length: rounds }, (_, round) => {
    const of = (w: 1 | 2) => inOne.find((m) => m.round === round && m.workers === w);
    const one = of(1);
    const two = of(2);
    return one === undefined || two === undefined
      ? Number.NaN
      : two.runs / two.seconds / (one.runs / one.seconds);
  });
  console.log(
    `\nscaling 2 vs 1: ${(mean(rate(2)) / mean(rate(1))).toFixed(2)}x (each round: ${paired.map((p) => `${p.toFixed(2)}x`).join(', ')}; target >= 1.8x)`,
  );
  explainCeiling(inOne, cores);
  const own = measurements.filter((m) => m.ownSessions);
  if (own.length > 0) {
    const ownRate = mean(own.map((m) => m.runs / m.seconds));
    console.log(
      `2 workers, each in its own session: ${(ownRate / mean(rate(1))).toFixed(2)}x of 1 worker, ${(ownRate / mean(rate(2))).toFixed(2)}x of 2 workers in one session (each round: ${own.map((m) => (m.runs / m.seconds).toFixed(2)).join(', ')} runs/s)`,
    );
  }
}

/**
 * What the measurements say about the ceiling. A worker's runs are a chain: the tester waits on
 * its owner and readers, they wait on it. Each link costs CPU, waiting for a core, and blocking.
 * 2 workers do the same work per run; what grows is the waiting for a core, because the chain of
 * each now competes with the other's and with every other job on the machine.
 */
function explainCeiling(measurements: readonly Measurement[], cores: number): void {
  const of = (w: 1 | 2) => measurements.filter((m) => m.workers === w);
  const avg = (w: 1 | 2, f: (m: Measurement) => number) => mean(of(w).map(f));
  const cpuPerRun = (m: Measurement) =>
    (sum(ROLES.map((r) => perRun(m, r, (p) => p.cpuMs))) +
      sum(m.profiles.map((p) => p.endedChildrenCpuMs)) / m.runs +
      m.parentCpuMs / m.runs) /
    1000;
  const wall = (m: Measurement) => (m.seconds * m.workers) / m.runs;
  const waitPerRun = (m: Measurement) => sum(ROLES.map((r) => perRun(m, r, (p) => p.runqueueWaitMs))) / 1000;
  const busy = (m: Measurement) => (cpuPerRun(m) * m.runs) / m.seconds;
  const c1 = avg(1, busy);
  console.log(
    `CPU per run: ${(avg(1, cpuPerRun) * 1000).toFixed(0)} ms with 1 worker, ${(avg(2, cpuPerRun) * 1000).toFixed(0)} ms with 2 (the work per run, nearly independent of the load)`,
  );
  console.log(
    `wall per run in a worker: ${(avg(1, wall) * 1000).toFixed(0)} ms with 1 worker, ${(avg(2, wall) * 1000).toFixed(0)} ms with 2; run-queue wait per run (all threads): ${(avg(1, waitPerRun) * 1000).toFixed(0)} ms -> ${(avg(2, waitPerRun) * 1000).toFixed(0)} ms`,
  );
  if (autogroupsEnabled()) {
    // Autogroups on: a saturated CFS gives each session with runnable threads an equal share of
    // the cores, however many threads it has. All our workers are one session.
    const entitled = (m: Measurement) => cores / Math.max(1, m.activeGroups);
    console.log(
      `sessions: the scheduler shares the cores between sessions (sched_autogroup_enabled=1), ${avg(1, (m) => m.activeGroups).toFixed(1)} / ${avg(2, (m) => m.activeGroups).toFixed(1)} with a runnable thread (1 / 2 workers): a session's share was ${avg(1, entitled).toFixed(2)} / ${avg(2, entitled).toFixed(2)} cores; we used ${c1.toFixed(2)} / ${avg(2, busy).toFixed(2)}, and a second worker in the same session can use at most what the first left of that share: ${Math.min(2, avg(2, entitled) / c1).toFixed(2)}x`,
    );
  } else {
    // Otherwise a saturated CFS shares the cores by runnable thread: ours get cores * n / N_all.
    const n1 = avg(1, oursRunnable);
    const others = Math.max(0, avg(1, (m) => m.machineRunnable) - n1);
    console.log(
      `with the others' ${others.toFixed(1)} runnable threads and ours ${n1.toFixed(2)} per worker, a second worker can raise our share by at most ${((2 * (others + n1)) / (others + 2 * n1)).toFixed(2)}x on a saturated machine: 2 (N + n) / (N + 2n)`,
    );
  }
  // Fixed costs of a measurement with 2 workers: both start up (in parallel), and the one that
  // finishes first leaves the other to finish alone.
  const startup = (m: Measurement) =>
    mean(m.profiles.map((p) => (p.uptimeMs - p.checkMs) / 1000)) / m.seconds;
  const tail = (m: Measurement) => {
    const checks = m.profiles.map((p) => p.checkMs);
    return 1 - mean(checks) / Math.max(1, ...checks);
  };
  console.log(
    `fixed costs: start-up is ${(avg(1, startup) * 100).toFixed(0)}% / ${(avg(2, startup) * 100).toFixed(0)}% of the wall time (1 / 2 workers); with 2 workers the first to finish waits for the other ${(avg(2, tail) * 100).toFixed(0)}% of the check`,
  );
  console.log(
    `one worker kept ${c1.toFixed(2)} cores busy: CPU alone caps 2 workers at ${Math.min(2, cores / c1).toFixed(2)}x on ${cores} idle cores; the machine was ${(avg(1, (m) => m.machineBusy) * 100).toFixed(0)}% / ${(avg(2, (m) => m.machineBusy) * 100).toFixed(0)}% busy (1 / 2 workers), ${(avg(1, (m) => m.machineRunnable)).toFixed(1)} / ${(avg(2, (m) => m.machineRunnable)).toFixed(1)} runnable threads`,
  );
}
