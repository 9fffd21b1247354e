import { createInterface } from 'node:readline';
import type { ResultPromise } from 'execa';
import { closeStdinThenKill, liveChildCount, spawnHelper, stopChild } from '../../src/process/children.js';
import { pidAlive } from '../../src/process/pid-alive.js';

/**
 * Starts `dist/helpers/owner-process.js` as a real child process and waits for its `ready` line.
 * Every child is recorded, so `stopAllOwners()` (afterEach) ends whatever a failed or timed-out test
 * left running and `assertNoSurvivors()` (afterAll) proves none is left.
 */

export interface ExitInfo {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  /** Everything the child wrote on stderr. */
  readonly stderr: string;
}

export interface OwnerHandle {
  readonly pid: number;
  readonly child: ResultPromise;
  /** Resolves when the child has exited (and been reaped). */
  readonly exited: Promise<ExitInfo>;
  stderr(): string;
  /** Closes its stdin (it closes the index and exits 0), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<ExitInfo>;
  /** Sends `signal` (default SIGKILL) and waits for the exit. */
  kill(signal?: NodeJS.Signals): Promise<ExitInfo>;
}

/** The child exited (or was killed on timeout) before printing `ready`. */
export class OwnerStartError extends Error {
  constructor(
    message: string,
    readonly pid: number,
    readonly exit: ExitInfo,
  ) {
    super(message);
    this.name = 'OwnerStartError';
  }
}

export interface StartOptions {
  /** How long to wait for `ready` before the child is killed; default 10 s. */
  readonly readyTimeoutMs?: number;
}

const started = new Set<OwnerHandle>();
const startedPidList: number[] = [];

/** Starts the owner process on `dbPath` with `flags`; rejects with OwnerStartError if it never gets ready. */
export async function startOwner(
  dbPath: string,
  flags: readonly string[] = [],
  options: StartOptions = {},
): Promise<OwnerHandle> {
  const child = spawnHelper('owner-process', [dbPath, ...flags]);
  const pid = child.pid;
  if (pid === undefined) {
    const result = await child;
    throw new Error(`owner-process did not start: ${result.message ?? 'no PID'}`);
  }
  startedPidList.push(pid);
  const { stdin, stdout, stderr: errStream } = child;
  if (stdin === null || stdout === null || errStream === null) {
    child.kill('SIGKILL');
    throw new Error('owner-process was started without piped stdio');
  }
  let stderr = '';
  errStream.setEncoding('utf8');
  errStream.on('data', (text: string) => {
    stderr += text;
  });
  const exited: Promise<ExitInfo> = child.then(
    (result) => ({ exitCode: result.exitCode, signal: result.signal, stderr }),
    () => ({ exitCode: child.exitCode ?? undefined, signal: child.signalCode ?? undefined, stderr }),
  );
  const handle: OwnerHandle = {
    pid,
    child,
    exited,
    stderr: () => stderr,
    stop(graceMs = 5000) {
      return closeStdinThenKill(child, exited, graceMs);
    },
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
  };
  started.add(handle);
  void exited.then(() => started.delete(handle));

  const lines = createInterface({ input: stdout });
  const ready = new Promise<'ready'>((resolve) => {
    lines.on('line', (line) => {
      if (line.trim() === 'ready') resolve('ready');
    });
  });
  let timer: NodeJS.Timeout | undefined;
  const timeoutMs = options.readyTimeoutMs ?? 10_000;
  const timedOut = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs);
  });
  const outcome = await Promise.race([ready, exited.then(() => 'exited' as const), timedOut]);
  clearTimeout(timer);
  if (outcome === 'ready') return handle;
  if (outcome === 'timeout') child.kill('SIGKILL');
  const exit = await exited;
  lines.close();
  const why =
    outcome === 'timeout'
      ? `no \`ready\` within ${timeoutMs} ms (killed)`
      : `exited with ${exit.exitCode ?? exit.signal} before \`ready\``;
  throw new OwnerStartError(
    `owner-process ${pid} on ${dbPath} ${why}; stderr: ${exit.stderr.trim()}`,
    pid,
    exit,
  );
}

export type ProbeResult =
  | { readonly opened: true; readonly pid: number }
  | { readonly opened: false; readonly pid: number; readonly exit: ExitInfo };

/** Can another process open `dbPath` with `flags`? Starts an owner process and stops it again. */
export async function probeOpen(dbPath: string, flags: readonly string[] = []): Promise<ProbeResult> {
  try {
    const owner = await startOwner(dbPath, flags);
    await owner.stop();
    return { opened: true, pid: owner.pid };
  } catch (error) {
    if (error instanceof OwnerStartError) return { opened: false, pid: error.pid, exit: error.exit };
    throw error;
  }
}

/** SIGKILLs every owner process still running and waits for each exit. For afterEach. */
export async function stopAllOwners(): Promise<void> {
  await Promise.all([...started].map((handle) => stopChild(handle.child, 0)));
  started.clear();
}

/** Every PID this module started, in order. */
export function startedPids(): readonly number[] {
  return startedPidList;
}

/** Throws, naming them, if any child started here is still registered or still alive. For afterAll. */
export function assertNoSurvivors(): void {
  const alive = startedPidList.filter(pidAlive);
  const registered = liveChildCount();
  if (alive.length > 0 || registered > 0) {
    throw new Error(
      `child processes outlived their tests: alive PIDs [${alive.join(', ')}], registered children ${registered}`,
    );
  }
}
