import { execa } from 'execa';
import { onTerminate } from '../../src/process/cleanup.js';

/**
 * Children of the mutation suite each lead a process group of their own, so that one kill ends the
 * stress CLI together with the owner and reader processes it started: a mutant that hangs the
 * tester must not leave an owner holding a DuckDB lock, or anything at all, behind.
 */

const liveGroups = new Set<number>();
let hooked = false;

function killGroup(pid: number): void {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

/** SIGKILLs every group still running; synchronous, so it works from an exit or signal handler. */
export function killAllGroups(): void {
  for (const pid of liveGroups) killGroup(pid);
  liveGroups.clear();
}

export interface GroupRun {
  readonly exitCode: number | undefined;
  readonly stdout: string;
  readonly stderr: string;
  /** Killed at the deadline. */
  readonly timedOut: boolean;
  readonly seconds: number;
}

export interface GroupRunOptions {
  readonly cwd: string;
  readonly deadlineS: number;
  readonly env: Record<string, string>;
}

/**
 * Runs `file args` to its end or its deadline, whichever comes first. The whole group is killed in
 * both cases: a CLI that exits normally should have reaped its children, and if a mutant broke
 * that, the next run must not inherit them.
 */
export async function runInGroup(
  file: string,
  args: readonly string[],
  options: GroupRunOptions,
): Promise<GroupRun> {
  if (!hooked) {
    hooked = true;
    onTerminate(killAllGroups);
  }
  const started = performance.now();
  const child = execa(file, args, {
    cwd: options.cwd,
    env: options.env,
    extendEnv: false,
    detached: true,
    stdin: 'ignore',
    reject: false,
    cleanup: false,
    maxBuffer: 64 * 1024 * 1024,
  });
  const pid = child.pid;
  if (pid !== undefined) liveGroups.add(pid);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    if (pid !== undefined) killGroup(pid);
  }, options.deadlineS * 1000);
  try {
    const result = await child;
    return {
      exitCode: result.exitCode,
      stdout: String(result.stdout ?? ''),
      stderr: String(result.stderr ?? ''),
      timedOut,
      seconds: (performance.now() - started) / 1000,
    };
  } finally {
    clearTimeout(timer);
    if (pid !== undefined) {
      killGroup(pid);
      liveGroups.delete(pid);
    }
  }
}
