import { createInterface } from 'node:readline';
import type { ResultPromise } from 'execa';
import { closeStdinThenKill, spawnHelper, stopChild } from '../../src/process/children.js';

/**
 * Parent-side handles on `dist/helpers/election-candidate.js` processes, shared by the election
 * tests and the election bench. Every candidate started here is remembered until it exits, so
 * `stopAllCandidates()` can end whatever a failed test left behind.
 */

/** One JSON line a candidate printed. `at` is its clock (epoch ms, sub-ms), comparable with `nowMs()`. */
export interface CandidateLine {
  readonly pid: number;
  readonly role?: 'owner' | 'reader' | 'ready' | 'error';
  readonly ownerPid?: number;
  readonly tookOverAfterMs?: number;
  readonly released?: boolean;
  readonly kind?: string;
  readonly error?: string;
  readonly at: number;
}

export interface CandidateExit {
  readonly exitCode: number | undefined;
  readonly signal: string | undefined;
  readonly stderr: string;
}

export interface WaitOptions {
  readonly from?: number;
  readonly timeoutMs?: number;
}

export interface Candidate {
  readonly pid: number;
  /** Every line printed so far, in order. */
  readonly lines: readonly CandidateLine[];
  /**
   * The first line at index `from` (default 0) or later that matches; rejects after `timeoutMs`
   * (default 10 s) or when the candidate exits first. No shared cursor: to wait for what an action
   * causes, pass `from: lines.length` taken before the action.
   */
  waitLine(match: (line: CandidateLine) => boolean, options?: WaitOptions): Promise<CandidateLine>;
  send(line: string): void;
  /** Closes stdin (the candidate releases and exits 0); SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<CandidateExit>;
  kill(signal?: NodeJS.Signals): Promise<CandidateExit>;
  readonly exited: Promise<CandidateExit>;
  readonly exitInfo: CandidateExit | undefined;
}

/** Epoch milliseconds with sub-ms precision, the same clock candidates stamp `at` with. */
export const nowMs = (): number => performance.timeOrigin + performance.now();

const running = new Set<ResultPromise>();
const startedPids: number[] = [];

export function startCandidate(args: readonly string[]): Candidate {
  const child = spawnHelper('election-candidate', args);
  const pid = child.pid;
  const { stdin, stdout, stderr: errStream } = child;
  if (pid === undefined || stdin === null || stdout === null || errStream === null) {
    child.kill('SIGKILL');
    throw new Error('election-candidate did not start with a PID and piped stdio');
  }
  startedPids.push(pid);
  running.add(child);
  let stderr = '';
  errStream.setEncoding('utf8');
  errStream.on('data', (text: string) => {
    stderr += text;
  });
  stdin.on('error', () => undefined); // EPIPE when it has already exited.
  let exitInfo: CandidateExit | undefined;
  const exited: Promise<CandidateExit> = child
    .then(
      (result) => ({ exitCode: result.exitCode, signal: result.signal, stderr }),
      () => ({ exitCode: child.exitCode ?? undefined, signal: child.signalCode ?? undefined, stderr }),
    )
    .then((info) => {
      exitInfo = info;
      running.delete(child);
      wakeAll();
      return info;
    });

  const lines: CandidateLine[] = [];
  let waiters: (() => void)[] = [];
  const wakeAll = () => {
    const current = waiters;
    waiters = [];
    for (const wake of current) wake();
  };
  createInterface({ input: stdout }).on('line', (text) => {
    try {
      lines.push(JSON.parse(text) as CandidateLine);
    } catch {
      lines.push({ pid, role: 'error', error: `not JSON: ${text}`, at: nowMs() });
    }
    wakeAll();
  });

  const waitLine = (match: (line: CandidateLine) => boolean, options: WaitOptions = {}) =>
    new Promise<CandidateLine>((resolve, reject) => {
      let index = options.from ?? 0;
      const timeoutMs = options.timeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        waiters = waiters.filter((w) => w !== look);
        reject(
          new Error(`candidate ${pid}: no matching line within ${timeoutMs} ms; stderr: ${stderr.trim()}`),
        );
      }, timeoutMs);
      const look = () => {
        for (; index < lines.length; index++) {
          const line = lines[index] as CandidateLine;
          if (match(line)) {
            clearTimeout(timer);
            resolve(line);
            return;
          }
        }
        if (exitInfo !== undefined) {
          clearTimeout(timer);
          reject(
            new Error(
              `candidate ${pid} exited (${exitInfo.exitCode ?? exitInfo.signal}) before a matching line; stderr: ${stderr.trim()}`,
            ),
          );
          return;
        }
        waiters.push(look);
      };
      look();
    });

  return {
    pid,
    lines,
    waitLine,
    send(line) {
      stdin.write(`${line}\n`);
    },
    stop(graceMs = 5000) {
      return closeStdinThenKill(child, exited, graceMs);
    },
    async kill(signal = 'SIGKILL') {
      child.kill(signal);
      return exited;
    },
    exited,
    get exitInfo() {
      return exitInfo;
    },
  };
}

/** SIGKILLs every candidate still running and waits for each exit. For afterEach and finally blocks. */
export async function stopAllCandidates(): Promise<void> {
  await Promise.all([...running].map((child) => stopChild(child, 0)));
  running.clear();
}

/** Every candidate PID started in this process, in order. */
export function candidatePids(): readonly number[] {
  return startedPids;
}
