import { EmbecodeError } from '../../errors.js';
import type { SearchResult } from '../../index/types.js';
import { IpcClient } from '../../ipc/client.js';
import type { IpcCatchUp } from '../../ipc/messages.js';
import type { SearchRequest } from '../clients/reader-actor.js';
import type { Recorder } from '../clients/recorder.js';
import type { Actor, StepEvent } from '../history.js';
import { tokensIn } from '../tokens.js';
import type { ServeChild } from './serve-child.js';

/**
 * One serve process as the tester's client (`serve-1`, `serve-2`, ...): every request goes to the
 * process's own socket (`serve/<pid>.sock`), so a search through a reader is forwarded to the
 * owner as a user's tool would see it. Every step is recorded with its deadline.
 */
export class ServeActor {
  private client: IpcClient | undefined;

  constructor(
    readonly actor: Actor,
    readonly child: ServeChild,
    private readonly recorder: Recorder,
  ) {}

  get pid(): number {
    return this.child.pid;
  }

  get alive(): boolean {
    return this.child.alive;
  }

  get role(): 'owner' | 'reader' | undefined {
    return this.child.role;
  }

  /** The start: until the process says which role it serves in. */
  async started(deadlineMs: number): Promise<StepEvent> {
    const { event } = await this.recorder.step(
      {
        actor: this.actor,
        pid: this.pid,
        op: 'start',
        args: {},
        describe: (role: { role?: string; ownerPid?: number | null }) => ({
          detail: { role: role.role ?? null, ownerPid: role.ownerPid ?? null },
        }),
      },
      () => this.child.waitEvent('role line', (e) => e.event === 'role', 0, deadlineMs),
    );
    return event;
  }

  private connection(): IpcClient {
    const socket = this.child.socket;
    if (socket === undefined) throw new EmbecodeError('usage', `serve ${this.pid} has no socket yet`);
    this.client ??= new IpcClient(socket, { connectTimeoutMs: 2_000 });
    return this.client;
  }

  async search(request: SearchRequest, timeoutMs: number): Promise<StepEvent> {
    const { event } = await this.recorder.step(
      {
        actor: this.actor,
        pid: this.pid,
        op: 'search',
        args: { ...request },
        describe: (results: SearchResult[]) => ({
          results: results.map((r) => ({
            path: r.path,
            startLine: r.startLine,
            endLine: r.endLine,
            score: r.score,
          })),
          seen: [...new Set(results.flatMap((r) => tokensIn(r.preview)))],
        }),
      },
      () =>
        this.connection().search(
          request.query,
          {
            mode: request.mode,
            topK: request.topK,
            ...(request.pathPrefix === undefined ? {} : { pathPrefix: request.pathPrefix }),
          },
          timeoutMs,
        ),
    );
    return event;
  }

  async catchUp(timeoutMs: number): Promise<StepEvent> {
    const { event } = await this.recorder.step(
      {
        actor: this.actor,
        pid: this.pid,
        op: 'catch-up',
        args: {},
        describe: (s: IpcCatchUp) => ({
          detail: { by: s.pid, added: s.added, updated: s.updated, deleted: s.deleted, files: s.files },
        }),
      },
      () => this.connection().catchUp(timeoutMs),
    );
    return event;
  }

  /** Sends `signal` and waits (bounded by the recorder's deadline) for the process to exit. */
  async kill(signal: 'SIGKILL' | 'SIGTERM', wasOwner: boolean): Promise<StepEvent> {
    const { event } = await this.recorder.step(
      {
        actor: 'nemesis',
        pid: this.pid,
        op: signal === 'SIGKILL' ? 'sigkill' : 'sigterm',
        args: { serve: this.actor, owner: wasOwner },
        describe: (exit: { code: number | undefined; signal: string | undefined }) => ({
          detail: { code: exit.code ?? null, signal: exit.signal ?? null },
        }),
      },
      async () => {
        this.child.kill(signal);
        const exit = await this.child.exited;
        // The client stays open (the world closes it at the end of the run). A request still in
        // flight through this serve must fail the way the serve's death makes it fail: the socket
        // closes, a retryable error. Closing the client here, as soon as the exit was seen, made it
        // fail with the client's own "closed before it was answered" instead, whenever the exit
        // came in before the socket's end (found by the 1,000-run serve check, seed 121000).
        // A SIGTERM is a clean stop: exit 0 (src/serve/command.ts); anything else is a failure.
        if (signal === 'SIGTERM' && exit.code !== 0) {
          throw new EmbecodeError(
            'internal',
            `serve ${this.pid} did not stop cleanly on SIGTERM (${exit.code ?? exit.signal}): ${this.child.stderr.trim().split('\n').at(-1) ?? ''}`,
          );
        }
        return exit;
      },
    );
    return event;
  }

  async close(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    await client?.close();
  }
}
