import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import type { ResultPromise } from 'execa';
import { EmbecodeError } from '../errors.js';
import { closeStdinThenKill, spawnHelper, stopChild } from '../process/children.js';
import { type Hello, PROTOCOL_VERSION, type Reply } from './messages.js';

const STDERR_KEEP = 64 * 1024;
const DEFAULT_TIMEOUT_MS = 30_000;

/**
 * Drives one real child process over the JSON-lines protocol of src/child-protocol/messages.ts (the
 * tester's owner and reader children both speak it). Replies are matched to requests by id; the
 * child's stderr is kept (the last 64 KiB) for failure traces.
 */
export class ProtocolClient {
  readonly pid: number;
  private readonly pending = new Map<
    number,
    {
      readonly op: string;
      readonly since: number;
      resolve: (reply: Reply) => void;
      reject: (e: Error) => void;
    }
  >();
  private nextId = 1;
  private stderrText = '';
  private exited = false;

  private constructor(
    private readonly child: ResultPromise,
    readonly hello: Hello,
    lines: AsyncIterableIterator<string>,
  ) {
    this.pid = hello.pid;
    void this.readReplies(lines);
    child.then(
      () => this.onExit(),
      () => this.onExit(),
    );
  }

  /** Starts `dist/helpers/<helper>.js --strategy NAME` and waits for its hello line. */
  static async start(
    helper: string,
    strategy: string,
    timeoutMs = DEFAULT_TIMEOUT_MS,
  ): Promise<ProtocolClient> {
    const child = spawnHelper(helper, ['--strategy', strategy]);
    let stderr = '';
    (child.stderr as Readable).setEncoding('utf8').on('data', (chunk: string) => {
      stderr = (stderr + chunk).slice(-STDERR_KEEP);
    });
    const lines = createInterface({ input: child.stdout as Readable, crlfDelay: Number.POSITIVE_INFINITY })[
      Symbol.asyncIterator
    ]();
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    try {
      const first = await lines.next();
      if (first.done === true) {
        await child.catch(() => undefined);
        throw new EmbecodeError(
          'internal',
          `${helper} child for '${strategy}' exited before saying hello (exit ${child.exitCode ?? child.signalCode}): ${stderr.trim() || 'no stderr'}`,
        );
      }
      const hello = JSON.parse(first.value) as Hello;
      if (typeof hello.hello !== 'string' || hello.protocol !== PROTOCOL_VERSION) {
        await stopChild(child);
        throw new EmbecodeError(
          'protocol',
          `${helper} child spoke an unknown protocol: ${first.value.slice(0, 120)}`,
        );
      }
      const client = new ProtocolClient(child, hello, lines);
      client.stderrText = stderr;
      (child.stderr as Readable).on('data', (chunk: string) => {
        client.stderrText = (client.stderrText + chunk).slice(-STDERR_KEEP);
      });
      return client;
    } finally {
      clearTimeout(timer);
    }
  }

  get alive(): boolean {
    return !this.exited;
  }

  /** What the child wrote to stderr so far (the last 64 KiB). */
  get stderr(): string {
    return this.stderrText;
  }

  /** Sends one request and resolves with its reply; rejects only if the child dies or times out. */
  request(op: string, args?: Record<string, unknown>, timeoutMs = DEFAULT_TIMEOUT_MS): Promise<Reply> {
    if (this.exited) {
      return Promise.reject(
        new EmbecodeError('died', `${this.hello.hello} ${this.pid} has exited; ${this.stderrTail()}`),
      );
    }
    const id = this.nextId++;
    const request = { id, op, ...(args === undefined ? {} : { args }) };
    return new Promise<Reply>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new EmbecodeError(
            'hang',
            `${this.hello.hello} ${this.pid} did not answer '${op}' within ${timeoutMs} ms (still pending: ${this.pendingSummary()})`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, {
        op,
        since: performance.now(),
        resolve: (reply) => {
          clearTimeout(timer);
          resolve(reply);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      (this.child.stdin as Writable).write(`${JSON.stringify(request)}\n`);
    });
  }

  /** What the child is working on: each unanswered request and how long it has waited. */
  pendingSummary(): string {
    const now = performance.now();
    const items = [...this.pending.values()].map((p) => `${p.op} for ${Math.round(now - p.since)} ms`);
    return items.length === 0 ? 'nothing' : items.join(', ');
  }

  /** Asks the child to close its index and exit; kills it if it does not within `graceMs`. */
  async stop(graceMs = 3000): Promise<void> {
    await closeStdinThenKill(
      this.child,
      this.child.catch(() => undefined),
      graceMs,
    );
  }

  /** Kills the child at once (a fault, or cleanup after a failure). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    this.child.kill(signal);
    await this.child.catch(() => undefined);
  }

  private async readReplies(lines: AsyncIterableIterator<string>): Promise<void> {
    try {
      for await (const line of { [Symbol.asyncIterator]: () => lines }) {
        let reply: Reply;
        try {
          reply = JSON.parse(line) as Reply;
        } catch {
          this.stderrText += `\n[non-protocol stdout] ${line}`;
          continue;
        }
        const waiter = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        waiter?.resolve(reply);
      }
    } catch {
      // The stream fails only when the child dies; onExit reports that.
    }
  }

  private onExit(): void {
    this.exited = true;
    const error = new EmbecodeError(
      'died',
      `${this.hello.hello} ${this.pid} exited (${this.child.exitCode ?? this.child.signalCode}) with requests pending; ${this.stderrTail()}`,
    );
    for (const waiter of this.pending.values()) waiter.reject(error);
    this.pending.clear();
  }

  private stderrTail(): string {
    const tail = this.stderrText.trim().split('\n').slice(-3).join(' | ');
    return tail === '' ? 'its stderr was empty' : `its stderr ends: ${tail}`;
  }
}
