import { Searcher } from '../index/search.js';
import type { SearchOptions, SearchResult } from '../index/types.js';
import { IpcClient, type IpcClientOptions } from '../ipc/client.js';
import { IpcUnavailableError } from '../ipc/errors.js';
import type { IpcStatus } from '../ipc/messages.js';
import { IpcServer, type IpcServerOptions } from '../ipc/server.js';
import { ipcSocketPath } from '../ipc/socket-dir.js';
import { HoldingOwner } from './holding-owner.js';
import type { ReaderSide, Strategy, StrategyContext } from './strategy.js';

export { ipcSocketPath };

/**
 * Readers send their searches to the owner over a Unix socket, and the owner answers from its own
 * connection. One process opens the file, so there is no lock conflict; each search runs after the
 * request arrives on the owner's read connection, which sees every commit made before it (MVCC).
 */
export const ipc: Strategy = {
  name: 'ipc',
  description:
    'Readers search through the owner over a local socket; a search sees every write acknowledged before it started.',
  contract: 'acknowledged-before-start',
  readerNeedsOwner: true,
  createOwner: (context) => new IpcOwner(context),
  createReader: (context) => new IpcReader(context),
};

/**
 * The owner that serves: holds the index like HoldingOwner and, while it holds it, answers
 * `search` and `status` on `<workDir>/ipc/owner.sock`. Releasing stops the server first (requests
 * in flight finish), then closes the index, so no search ever runs on a closed connection.
 */
export class IpcOwner extends HoldingOwner {
  private server: IpcServer | undefined;
  private searcher: Searcher | undefined;

  constructor(
    context: StrategyContext,
    private readonly serverOptions: IpcServerOptions = {},
    readonly socketPath = ipcSocketPath(context.workDir),
  ) {
    super(context);
  }

  override async acquire(): Promise<void> {
    if (this.db !== undefined) return;
    await super.acquire();
    try {
      const db = this.open();
      // Load the vector cache before anyone can search. Found by the stress tester: a vector search
      // arriving while the first write since open is in flight queues the cache load behind that
      // write, and the write, after COMMIT, waits for the load: owner and readers hang for good
      // (see tests/strategies/ipc.int.test.ts, "regression"). Loading it here, with no write in
      // flight, keeps serving out of that path.
      await db.vectorCache();
      this.searcher = new Searcher(db, this.context.embedder);
      this.server = await IpcServer.listen(
        this.socketPath,
        { search: (params) => this.answerSearch(params), status: () => this.answerStatus() },
        this.serverOptions,
      );
    } catch (error) {
      this.searcher = undefined;
      await super.release();
      throw error;
    }
  }

  override async release(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    await server?.close();
    this.searcher = undefined;
    await super.release();
  }

  private answerSearch(params: { query: string } & SearchOptions): Promise<SearchResult[]> {
    const searcher = this.searcher;
    if (searcher === undefined) {
      return Promise.reject(
        new IpcUnavailableError('shutting-down', `owner ${process.pid} has released ${this.context.dbPath}`),
      );
    }
    const { query, ...options } = params;
    return searcher.search(query, options);
  }

  private async answerStatus(): Promise<IpcStatus> {
    const stats = this.db === undefined ? undefined : await this.stats();
    return {
      pid: process.pid,
      db: this.context.dbPath,
      holding: this.holding,
      files: stats?.files ?? 0,
      chunks: stats?.chunks ?? 0,
    };
  }
}

/** A reader that holds no file: open connects and shakes hands, search is a request to the owner. */
export class IpcReader implements ReaderSide {
  private readonly client: IpcClient;
  private opened = false;

  constructor(
    context: StrategyContext,
    options: IpcClientOptions = {},
    socketPath = ipcSocketPath(context.workDir),
  ) {
    this.client = new IpcClient(socketPath, options);
  }

  get isOpen(): boolean {
    return this.opened;
  }

  /** Connects to the owner; fails with IpcUnavailableError (retryable) when nobody serves. */
  async open(): Promise<void> {
    if (this.opened) return;
    await this.client.connect();
    this.opened = true;
  }

  async close(): Promise<void> {
    this.opened = false;
    await this.client.close();
  }

  search(query: string, options: SearchOptions): Promise<SearchResult[]> {
    if (!this.opened) {
      return Promise.reject(new Error(`ipc reader ${process.pid} is not open; open it first`));
    }
    return this.client.search(query, options);
  }

  /** The owner's status, through the socket. */
  status(): Promise<IpcStatus> {
    return this.client.status();
  }
}
