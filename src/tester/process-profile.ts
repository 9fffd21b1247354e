import { readdirSync, readFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

/**
 * Where the time of a stress check went, per process, for the workers benchmark. Runs/s alone
 * cannot say why 2 workers are not twice as fast as one, least of all on a machine other jobs
 * share, so each worker reports, for itself and every process under it: CPU time and run-queue
 * wait (runnable, waiting for a core) summed over all its threads (/proc/<pid>/task/<tid>/schedstat:
 * DuckDB's and libuv's threads do much of the work), and for its main thread, the time it was
 * blocked: alive, neither running nor runnable, so waiting on another process, a disk or a
 * timer. Opt-in (STRESS_PROFILE=1): it reads /proc, so Linux only; elsewhere it reports nothing.
 */
export interface ProcessTimes {
  readonly role: string;
  readonly pid: number;
  /** On-CPU time of all its threads. */
  readonly cpuMs: number;
  /** Time its threads were runnable but not running: waiting for a core. */
  readonly runqueueWaitMs: number;
  /** Its main thread: time alive, minus on-CPU, minus run-queue wait. */
  readonly mainBlockedMs: number;
  readonly mainCpuMs: number;
  readonly mainRunqueueWaitMs: number;
  readonly lifeMs: number;
}

export interface RunProfile {
  /** The worker process's life so far (ms). */
  readonly uptimeMs: number;
  /** Of which the check itself (the runs), the rest being start-up. */
  readonly checkMs: number;
  /** Runs this worker did. */
  readonly runs: number;
  /** Event-loop utilisation of the worker over its life (0-1): busy time over uptime. */
  readonly elu: number;
  /** The worker first, then every live process under it. */
  readonly processes: readonly ProcessTimes[];
  /** CPU of the worker's children that already ended and were reaped (replaced owners, readers). */
  readonly endedChildrenCpuMs: number;
}

/** USER_HZ: the unit of /proc/<pid>/stat times, 100 on every Linux that Node runs on. */
const TICKS_PER_S = 100;

/** One thread's (or a process's main thread's) on-CPU and run-queue ns, or undefined when it is gone. */
function schedstat(path: string): [number, number] | undefined {
  try {
    const [cpuNs, waitNs] = readFileSync(path, 'utf8').trim().split(/\s+/).map(Number);
    return cpuNs === undefined || waitNs === undefined || Number.isNaN(cpuNs + waitNs)
      ? undefined
      : [cpuNs, waitNs];
  } catch {
    return undefined;
  }
}

/** The fields of /proc/<pid>/stat after the command name (which may hold spaces): index 0 is field 3. */
function statFields(pid: number): string[] | undefined {
  try {
    const raw = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return raw
      .slice(raw.lastIndexOf(')') + 2)
      .trim()
      .split(' ');
  } catch {
    return undefined;
  }
}

const field = (fields: readonly string[], n: number) => Number(fields[n - 3]);

function secondsSinceBoot(): number {
  return Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
}

/** `pid`'s times, all threads summed, or undefined when it is gone (or this is not Linux). */
export function schedstatOf(pid: number, role: string): ProcessTimes | undefined {
  let tasks: string[];
  let fields: string[] | undefined;
  let main: [number, number] | undefined;
  try {
    tasks = readdirSync(`/proc/${pid}/task`);
    fields = statFields(pid);
    main = schedstat(`/proc/${pid}/schedstat`);
  } catch {
    return undefined;
  }
  if (fields === undefined || main === undefined) return undefined;
  let cpuNs = 0;
  let waitNs = 0;
  for (const task of tasks) {
    const times = schedstat(`/proc/${pid}/task/${task}/schedstat`);
    if (times === undefined) continue;
    cpuNs += times[0];
    waitNs += times[1];
  }
  const lifeMs = (secondsSinceBoot() - field(fields, 22) / TICKS_PER_S) * 1000;
  const mainCpuMs = main[0] / 1e6;
  const mainRunqueueWaitMs = main[1] / 1e6;
  return {
    role,
    pid,
    cpuMs: cpuNs / 1e6,
    runqueueWaitMs: waitNs / 1e6,
    mainBlockedMs: Math.max(0, lifeMs - mainCpuMs - mainRunqueueWaitMs),
    mainCpuMs,
    mainRunqueueWaitMs,
    lifeMs,
  };
}

/** The role of a child from its command line: `node dist/helpers/stress-owner.js ...` is `owner`. */
export function roleOf(argv: readonly string[]): string {
  const script = argv.find((a) => a.endsWith('.js')) ?? argv[0] ?? 'unknown';
  const name = (script.split('/').at(-1) ?? script).replace(/\.js$/, '');
  return name.replace(/^stress-/, '');
}

/** Every live process under `root` (children, their children...), with its role. */
export function descendantsOf(root: number): { role: string; pid: number }[] {
  const childrenOf = new Map<number, number[]>();
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return [];
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    const fields = statFields(Number(entry));
    if (fields === undefined) continue;
    const parent = field(fields, 4);
    childrenOf.set(parent, [...(childrenOf.get(parent) ?? []), Number(entry)]);
  }
  const found: { role: string; pid: number }[] = [];
  const queue = [...(childrenOf.get(root) ?? [])];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
    } catch {
      continue;
    }
    found.push({ role: roleOf(argv), pid });
    queue.push(...(childrenOf.get(pid) ?? []));
  }
  return found;
}

export function profileEnabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return env.STRESS_PROFILE === '1';
}

/** This process (role `tester`) and every process under it, as they are now. */
export function profileNow(checkMs: number, runs: number): RunProfile {
  const processes = [{ role: 'tester', pid: process.pid }, ...descendantsOf(process.pid)]
    .map((p) => schedstatOf(p.pid, p.role))
    .filter((p): p is ProcessTimes => p !== undefined);
  const self = statFields(process.pid);
  const endedTicks = self === undefined ? 0 : field(self, 16) + field(self, 17);
  return {
    uptimeMs: performance.now(),
    checkMs,
    runs,
    elu: performance.eventLoopUtilization().utilization,
    processes,
    endedChildrenCpuMs: (endedTicks * 1000) / TICKS_PER_S,
  };
}
