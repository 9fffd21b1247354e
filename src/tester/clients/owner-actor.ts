import type { OwnerOp } from '../../child-protocol/owner-service.js';
import { RemoteError } from '../../errors.js';
import type { LockWaits } from '../../strategies/lock-waits.js';
import type { StepEvent, WrittenFile } from '../history.js';
import type { Recorder } from './recorder.js';

/** The owner as the tester sees it: the real child in a stress run, the service itself in the floor benchmark. */
export interface OwnerHandle {
  readonly pid: number;
  request(
    op: OwnerOp,
    args?: Record<string, unknown>,
  ): Promise<{ ok: boolean; error?: string; kind?: string; waits?: LockWaits }>;
}

/** Sends a request and turns an error reply into a thrown error that keeps its kind. */
export async function requestOrThrow(
  owner: OwnerHandle,
  op: OwnerOp,
  args?: Record<string, unknown>,
): Promise<LockWaits | undefined> {
  const reply = await owner.request(op, args);
  if (!reply.ok) throw new RemoteError(reply.error ?? 'unknown owner error', reply.kind ?? 'other');
  return reply.waits;
}

/** The tokens a write planted, for the trace line (its contents live on the event, not in args). */
export interface PlannedWrite {
  readonly files: readonly WrittenFile[];
  readonly tokens: readonly string[];
}

/**
 * The owner client: one recorded step per request. Writes keep their whole files on the event, so
 * the oracle can rebuild the state they lead to; the trace shows only paths and tokens.
 */
export class OwnerActor {
  constructor(
    private handle: OwnerHandle,
    private readonly recorder: Recorder,
  ) {}

  get pid(): number {
    return this.handle.pid;
  }

  get current(): OwnerHandle {
    return this.handle;
  }

  /** A restarted owner takes over this actor's name. */
  replace(handle: OwnerHandle): void {
    this.handle = handle;
  }

  write(write: PlannedWrite, batch?: number): Promise<StepEvent> {
    const args = { paths: write.files.map((f) => f.path), tokens: write.tokens };
    return this.send('write', args, { files: write.files }, batch, { files: write.files });
  }

  delete(paths: readonly string[], batch?: number): Promise<StepEvent> {
    return this.send('delete', { paths }, { paths }, batch);
  }

  simple(op: 'checkpoint' | 'release' | 'acquire', batch?: number): Promise<StepEvent> {
    return this.send(op, {}, undefined, batch);
  }

  private async send(
    op: OwnerOp,
    args: Record<string, unknown>,
    request: Record<string, unknown> | undefined,
    batch: number | undefined,
    extra?: { files: readonly WrittenFile[] },
  ): Promise<StepEvent> {
    const handle = this.handle;
    const { event } = await this.recorder.step(
      {
        actor: 'owner',
        pid: handle.pid,
        op,
        args,
        ...(batch === undefined ? {} : { batch }),
        ...(extra === undefined ? {} : { extra }),
        // Lock conflicts the strategy retried for this request (handoff), for the reach counters.
        describe: (waits) => (waits === undefined ? {} : { detail: { lockWaits: waits } }),
      },
      () => requestOrThrow(handle, op, request),
    );
    return event;
  }
}
