import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { execa, type ResultPromise } from 'execa';
import { packageRoot } from '../../process/children.js';
import { onTerminate } from '../../process/cleanup.js';

/**
 * One real `embecode serve --json` process (the built CLI, run from dist/), its JSON events read
 * off stdout as they come. Used by the serve target of the stress tester and by the serve tests.
 * Every child started here is SIGKILLed when this process ends, whichever way it ends.
 */

export const EMBECODE_CLI = join(packageRoot(), 'dist', 'src', 'cli', 'embecode.js');

/** The fields of serve's `--json` events (src/serve/serve.ts ServeEvent) that callers read. */
export interface ServeChildEvent {
  readonly event: 'role' | 'indexed' | 'index-failed' | 'stopped' | string;
  readonly pid: number;
  readonly role?: 'owner' | 'reader';
  readonly ownerPid?: number | null;
  readonly takeover?: boolean;
  readonly previousOwnerPid?: number | null;
  readonly socket?: string;
  readonly ownerSocket?: string;
  readonly reason?: string;
  readonly added?: number;
  readonly updated?: number;
  readonly deleted?: number;
  readonly error?: string;
  readonly why?: string;
  readonly at: number;
}

export interface ServeChildExit {
  readonly code: number | undefined;
  readonly signal: string | undefined;
  /** Epoch ms when the parent saw the exit. */
  readonly at: number;
}

export interface ServeChildOptions {
  readonly dir: string;
  readonly db?: string;
  readonly strategy?: string;
  readonly extraArgs?: readonly string[];
  /** Extra environment (XDG_CACHE_HOME for the default index location, say). */
  readonly env?: Record<string, string>;
  /**
   * A program (and its arguments) that execs node with the serve arguments, e.g. `setpriv` to run
   * serve with fewer privileges. It must exec, not fork: the child's PID is the serve's.
   */
  readonly launcher?: readonly string[];
}

const live = new Set<ResultPromise>();
let hooked = false;

function hook(): void {
  if (hooked) return;
  hooked = true;
  onTerminate(() => {
    for (const child of live) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    live.clear();
  });
}

/** Serve children started here and not yet exited (tests check none is left). */
export function liveServeChildren(): number {
  return live.size;
}

const nowMs = (): number => performance.timeOrigin + performance.now();

export class ServeChild {
  readonly pid: number;
  readonly events: ServeChildEvent[] = [];
  stderr = '';
  exit: ServeChildExit | undefined;
  readonly exited: Promise<ServeChildExit>;
  private readonly child: ResultPromise;
  private waiters: (() => void)[] = [];

  constructor(options: ServeChildOptions) {
    if (!existsSync(EMBECODE_CLI))
      throw new Error(`${EMBECODE_CLI} is not built; run \`npm run build\` first`);
    hook();
    const args = [EMBECODE_CLI, 'serve', options.dir, '--json'];
    if (options.db !== undefined) args.push('--db', options.db);
    if (options.strategy !== undefined) args.push('--strategy', options.strategy);
    args.push(...(options.extraArgs ?? []));
    const [launcher, ...launcherArgs] = options.launcher ?? [];
    const child = execa(
      launcher ?? process.execPath,
      launcher === undefined ? args : [...launcherArgs, process.execPath, ...args],
      {
        env: options.env ?? {},
        extendEnv: true,
        reject: false,
        buffer: false,
        cleanup: true,
        stdin: 'ignore',
        stdout: 'pipe',
        stderr: 'pipe',
      },
    );
    if (child.pid === undefined || child.stdout === null || child.stderr === null) {
      child.kill('SIGKILL');
      throw new Error(`embecode serve ${options.dir} did not start`);
    }
    this.child = child;
    this.pid = child.pid;
    live.add(child);
    this.exited = child.then(
      (r) => ({ code: r.exitCode, signal: r.signal, at: nowMs() }),
      () => ({ code: child.exitCode ?? undefined, signal: child.signalCode ?? undefined, at: nowMs() }),
    );
    void this.exited.then((exit) => {
      live.delete(child);
      this.exit = exit;
      this.wake();
    });
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (text: string) => {
      this.stderr += text;
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      try {
        this.events.push(JSON.parse(line) as ServeChildEvent);
      } catch {
        this.stderr += `(not an event on stdout: ${line})\n`;
      }
      this.wake();
    });
  }

  get alive(): boolean {
    return this.exit === undefined;
  }

  /** The role this process last announced, if any. */
  get role(): 'owner' | 'reader' | undefined {
    for (let i = this.events.length - 1; i >= 0; i--) {
      const e = this.events[i] as ServeChildEvent;
      if (e.event === 'role') return e.role;
    }
    return undefined;
  }

  /** Its own socket (`serve/<pid>.sock`), known from its first role line. */
  get socket(): string | undefined {
    return this.events.find((e) => e.event === 'role')?.socket;
  }

  kill(signal: 'SIGKILL' | 'SIGTERM'): void {
    if (this.alive) this.child.kill(signal);
  }

  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it has exited. */
  async stop(graceMs = 5_000): Promise<ServeChildExit> {
    this.kill('SIGTERM');
    const timer = setTimeout(() => this.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** The first event at index `from` or later that matches; rejects (saying what) on timeout or exit. */
  waitEvent(
    what: string,
    match: (event: ServeChildEvent) => boolean,
    from = 0,
    timeoutMs = 10_000,
  ): Promise<ServeChildEvent> {
    return new Promise((resolve, reject) => {
      let index = from;
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== look);
        reject(
          new Error(`serve ${this.pid}: no ${what} within ${timeoutMs} ms; stderr: ${this.stderr.trim()}`),
        );
      }, timeoutMs);
      const look = () => {
        for (; index < this.events.length; index++) {
          const event = this.events[index] as ServeChildEvent;
          if (match(event)) {
            clearTimeout(timer);
            resolve(event);
            return;
          }
        }
        if (this.exit !== undefined) {
          clearTimeout(timer);
          reject(
            new Error(
              `serve ${this.pid} exited (${this.exit.code ?? this.exit.signal}) before ${what}; stderr: ${this.stderr.trim()}`,
            ),
          );
          return;
        }
        this.waiters.push(look);
      };
      look();
    });
  }

  private wake(): void {
    const waiting = this.waiters;
    this.waiters = [];
    for (const w of waiting) w();
  }
}

export const isRoleEvent =
  (role: 'owner' | 'reader') =>
  (e: ServeChildEvent): boolean =>
    e.event === 'role' && e.role === role;
