import { EmbecodeError, RemoteError } from '../errors.js';
import type { Embedder } from '../index/embedder.js';
import type { SearchMode, SearchOptions, SearchResult } from '../index/types.js';
import { type LockWaits, noLockWaits } from '../strategies/lock-waits.js';
import type { ReaderSide, Strategy } from '../strategies/strategy.js';
import type { ProtocolClient } from './client.js';
import type { OpTable } from './dispatch.js';

/**
 * A reader in a process of its own (helpers/stress-reader.js), so that faults can SIGKILL it,
 * even while it holds a READ_ONLY lock. The child runs the strategy's real reader side; this
 * process talks to it over the same JSON-lines protocol as the owner child, with ops of its own.
 */

export type ReaderOp = 'attach' | 'open' | 'close' | 'search' | 'shutdown';

/** The child side: one strategy reader per run (`attach` starts a new run on a new file). */
export class ReaderService {
  private reader: ReaderSide | undefined;

  constructor(
    private readonly strategy: Strategy,
    private readonly embedder: Embedder,
  ) {}

  readonly ops: OpTable<ReaderOp> = {
    attach: async (args) => {
      await this.close();
      this.reader = this.strategy.createReader({
        dbPath: String(args.db),
        workDir: String(args.dir),
        embedder: this.embedder,
      });
      return null;
    },
    open: async () => {
      await this.current().open();
      return null;
    },
    close: async () => {
      await this.current().close();
      return null;
    },
    search: (args) =>
      this.current().search(String(args.query), {
        mode: String(args.mode) as SearchMode,
        topK: Number(args.topK),
        ...(typeof args.pathPrefix === 'string' ? { pathPrefix: args.pathPrefix } : {}),
      }),
    shutdown: async () => {
      await this.close();
      return null;
    },
  };

  async close(): Promise<void> {
    await this.reader?.close();
    this.reader = undefined;
  }

  private current(): ReaderSide {
    if (this.reader === undefined)
      throw new EmbecodeError('protocol', 'no run attached; send "attach" first');
    return this.reader;
  }
}

/** The tester's side: a ReaderSide whose every call is a request to the reader child. */
export class RemoteReader implements ReaderSide {
  private opened = false;
  /** Lock waits replies reported that no recorded step has claimed yet. */
  private unclaimed: LockWaits = noLockWaits();

  constructor(private readonly child: ProtocolClient) {}

  get pid(): number {
    return this.child.pid;
  }

  get isOpen(): boolean {
    return this.opened;
  }

  /** Points the child at this run's files. */
  async attach(dbPath: string, workDir: string): Promise<void> {
    await this.call('attach', { db: dbPath, dir: workDir });
  }

  async open(): Promise<void> {
    await this.call('open');
    this.opened = true;
  }

  async close(): Promise<void> {
    if (!this.child.alive) {
      this.opened = false;
      return;
    }
    await this.call('close');
    this.opened = false;
  }

  async search(query: string, options: SearchOptions): Promise<SearchResult[]> {
    return (await this.call('search', {
      query,
      mode: options.mode ?? 'hybrid',
      topK: options.topK ?? 10,
      ...(options.pathPrefix === undefined ? {} : { pathPrefix: options.pathPrefix }),
    })) as SearchResult[];
  }

  /**
   * The lock waits (conflicts retried, longest wait) of the replies since the last claim, or
   * undefined when there were none. Steps of one reader that overlap may claim each other's, but
   * every wait is claimed once, so a run's totals are exact.
   */
  claimLockWaits(): LockWaits | undefined {
    const waits = this.unclaimed;
    if (waits.conflicts === 0 && waits.longestWaitMs === 0) return undefined;
    this.unclaimed = noLockWaits();
    return waits;
  }

  private async call(op: string, args?: Record<string, unknown>): Promise<unknown> {
    // A dead or stuck child rejects with its own kind (`died`, `hang`): the step may have happened.
    const reply = await this.child.request(op, args);
    if (reply.waits !== undefined) {
      this.unclaimed.conflicts += reply.waits.conflicts;
      this.unclaimed.longestWaitMs = Math.max(this.unclaimed.longestWaitMs, reply.waits.longestWaitMs);
    }
    if (!reply.ok) throw new RemoteError(reply.error, reply.kind);
    return reply.result;
  }
}
