import { chmodSync, lstatSync, unlinkSync } from 'node:fs';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { EmbecodeError, errorKindOf } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
import type { SearchResult } from '../index/types.js';
import { onTerminate } from '../process/cleanup.js';
import { formatDuration, IpcUnavailableError } from './errors.js';
import { FairScheduler } from './fair-scheduler.js';
import { DEFAULT_MAX_FRAME_BYTES, encodeFrame, FrameDecoder, FrameError } from './frame-codec.js';
import {
  InvalidMessage,
  type IpcCatchUp,
  type IpcErrorBody,
  type IpcRequest,
  type IpcResponse,
  type IpcStatus,
  isIpcMethod,
  parseClientHello,
  parseRequest,
  parseSearchParams,
  parseServerHello,
  type SearchParams,
  serverHello,
} from './messages.js';
import { checkSocketPathLength, preparePrivateDir } from './socket-dir.js';

/**
 * What the server does for each method. Throwing IpcUnavailableError answers `unavailable` (with
 * its reason). `signal` aborts when the request's deadline passes or its client leaves: work still
 * running then should stop (its answer is no longer wanted and nobody will read it).
 */
export interface IpcHandlers {
  search(params: SearchParams, signal: AbortSignal): Promise<SearchResult[]>;
  status(signal: AbortSignal): Promise<IpcStatus>;
  /** Optional: a server without it answers `unknown-method`. */
  catchUp?(signal: AbortSignal): Promise<IpcCatchUp>;
}

export interface IpcServerOptions {
  /** Largest frame body accepted or sent (default 1 MiB). */
  readonly maxFrameBytes?: number;
  /** A client must send its hello within this time (default 5 s). */
  readonly handshakeTimeoutMs?: number;
  /** A connection with nothing in flight and no traffic for this long is closed (default 60 s; 0: never). */
  readonly idleTimeoutMs?: number;
  /** A frame must arrive whole within this time of its first byte, header included (default 10 s). */
  readonly frameTimeoutMs?: number;
  /**
   * A request not answered within this time of its arrival gets a `timeout` error (default 30 s);
   * if it has not started it never does, if it runs its handler's signal aborts.
   */
  readonly requestTimeoutMs?: number;
  /**
   * At most this many connections (default 128). A new one at the limit takes the place of the
   * connection idle the longest (nothing in flight), which is told `busy` and closed; only when
   * every connection has work in flight is the new one told `busy`.
   */
  readonly maxConnections?: number;
  /** Requests in flight (queued or running) per connection beyond this are answered `busy` (default 64). */
  readonly maxInFlight?: number;
  /**
   * Requests run at once over all connections (default 2); the others wait, the least served
   * connection's first (see fair-scheduler.ts).
   */
  readonly maxConcurrentRequests?: number;
  /** `close()` waits this long for requests in flight before it cuts connections (default 5 s). */
  readonly closeGraceMs?: number;
  /** Diagnostics (one line each); default: dropped. */
  readonly log?: (line: string) => void;
}

const DEFAULTS = {
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
  handshakeTimeoutMs: 5_000,
  idleTimeoutMs: 60_000,
  frameTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  maxConnections: 128,
  maxInFlight: 64,
  maxConcurrentRequests: 2,
  closeGraceMs: 5_000,
};

/** How long a probe of an existing socket file waits for a live server to answer. */
const PROBE_TIMEOUT_MS = 1_000;

/**
 * A Unix socket server for the ipc protocol (see messages.ts), in a private directory: the directory
 * is 0700 and ours, the socket 0600. A bad frame, an unknown method or a client that hangs up
 * mid-frame affects that client alone; everyone else keeps being served.
 */
export class IpcServer {
  private readonly connections = new Set<ServerConnection>();
  private readonly scheduler: FairScheduler;
  private closing: Promise<void> | undefined;
  private readonly options: Required<Omit<IpcServerOptions, 'log'>> & Pick<IpcServerOptions, 'log'>;
  /** Removes the socket file if this process ends (exit, SIGINT, SIGTERM, SIGHUP) without close(). */
  private readonly forgetCleanup: () => void;

  private constructor(
    readonly path: string,
    private readonly server: Server,
    private readonly socketIno: number,
    readonly handlers: IpcHandlers,
    options: IpcServerOptions,
  ) {
    this.options = { ...DEFAULTS, ...options };
    this.scheduler = new FairScheduler(this.options.maxConcurrentRequests);
    server.on('connection', (socket) => this.accept(socket));
    // A listening server only errors on resource exhaustion; keep serving who we have.
    server.on('error', (error) => this.options.log?.(`ipc server ${path}: ${messageOf(error)}`));
    this.forgetCleanup = onTerminate(() => this.removeSocketFile());
  }

  /**
   * Listens on `socketPath`. Its directory is created 0700 if missing and refused if it is not
   * private. A socket file nobody listens on (left by a dead owner) is replaced; a live server
   * there is an error (kind `locked`), as is any other file in the way.
   */
  static async listen(
    socketPath: string,
    handlers: IpcHandlers,
    options: IpcServerOptions = {},
  ): Promise<IpcServer> {
    checkSocketPathLength(socketPath);
    preparePrivateDir(dirname(socketPath));
    await removeStaleSocket(socketPath);
    const server = createServer({ allowHalfOpen: false, pauseOnConnect: false });
    await new Promise<void>((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException) => {
        server.off('listening', onListening);
        reject(
          error.code === 'EADDRINUSE'
            ? new EmbecodeError(
                'locked',
                `another ipc server started listening on ${socketPath} at the same time`,
                {
                  cause: error,
                },
              )
            : new EmbecodeError('io', `cannot listen on ${socketPath}: ${error.message}`, { cause: error }),
        );
      };
      const onListening = () => {
        server.off('error', onError);
        resolve();
      };
      server.once('error', onError);
      server.once('listening', onListening);
      server.listen(socketPath);
    });
    let ino: number;
    try {
      chmodSync(socketPath, 0o600);
      ino = lstatSync(socketPath).ino;
    } catch (error) {
      server.close();
      throw new EmbecodeError('io', `cannot secure socket ${socketPath}: ${messageOf(error)}`, {
        cause: error,
      });
    }
    return new IpcServer(socketPath, server, ino, handlers, options);
  }

  /** Connections currently open. */
  get connectionCount(): number {
    return this.connections.size;
  }

  /** Requests waiting for their turn, and requests running (timed-out ones until their work returns). */
  get requests(): { readonly queued: number; readonly running: number } {
    return { queued: this.scheduler.queued, running: this.scheduler.active };
  }

  get closed(): boolean {
    return this.closing !== undefined;
  }

  /**
   * Stops accepting, lets requests in flight finish (up to `closeGraceMs`), ends every connection
   * and removes the socket file (if it is still ours). Safe to call twice.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async shutdown(): Promise<void> {
    const stopped = new Promise<void>((resolve) => this.server.close(() => resolve()));
    // Nobody new can reach us from here on: remove the path first, so a successor may bind it.
    this.removeSocketFile();
    this.forgetCleanup();
    await Promise.all([...this.connections].map((c) => c.shutdown(this.options.closeGraceMs)));
    await stopped;
  }

  private removeSocketFile(): void {
    try {
      if (lstatSync(this.path).ino === this.socketIno) unlinkSync(this.path);
    } catch {
      // Already gone (or replaced by someone else's, which is not ours to remove).
    }
  }

  private accept(socket: Socket): void {
    // Never let a socket error become an uncaught exception: a client's fault is the client's alone.
    socket.on('error', () => undefined);
    if (this.closing !== undefined) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= this.options.maxConnections) this.evictIdlest();
    if (this.connections.size >= this.options.maxConnections) {
      socket.resume(); // read (and drop) input, so that the client's hang-up ends this socket
      socket.end(
        encodeFrame({
          id: null,
          ok: false,
          error: {
            kind: 'busy',
            message: `server has ${this.connections.size} connections, its limit, all with requests in flight; retry later`,
          },
        }),
      );
      setTimeout(() => socket.destroy(), 1_000).unref();
      return;
    }
    const connection = new ServerConnection(socket, this.handlers, this.options, this.scheduler, () =>
      this.connections.delete(connection),
    );
    this.connections.add(connection);
  }

  /**
   * Makes room for a new connection: a client that opened a connection and left it idle (a stuck
   * plugin, a forgotten script) must not keep a new one out. The victim is the connection with
   * nothing in flight whose last traffic is oldest; half-sent frames and missing hellos count as
   * nothing in flight (their own timeouts would end them later anyway).
   */
  private evictIdlest(): void {
    let victim: ServerConnection | undefined;
    for (const connection of this.connections) {
      if (!connection.idle) continue;
      if (victim === undefined || connection.lastActivity < victim.lastActivity) victim = connection;
    }
    if (victim === undefined) return;
    this.connections.delete(victim);
    victim.evict(this.options.maxConnections);
  }
}

type ConnectionOptions = Required<Omit<IpcServerOptions, 'log'>>;

/** One client's connection: handshake, then requests dispatched concurrently, answered by id. */
class ServerConnection {
  private readonly decoder: FrameDecoder;
  /** The client's hello was accepted. */
  private handshaken = false;
  /** The server is shutting down: requests get `unavailable`, those in flight finish. */
  private draining = false;
  /** We are hanging up: input is ignored from here on. */
  private hungUp = false;
  private closed = false;
  private readonly inFlight = new Set<Promise<void>>();
  /** Aborts every request of this connection, queued or running (it closed). */
  private readonly cancels = new Set<() => void>();
  /** performance.now() of the last traffic either way, or of the last request settling. */
  lastActivity = performance.now();
  private handshakeTimer: NodeJS.Timeout | undefined;
  private frameTimer: NodeJS.Timeout | undefined;
  private idleTimer: NodeJS.Timeout | undefined;
  private hangingUp: Promise<void> | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly handlers: IpcHandlers,
    private readonly options: ConnectionOptions,
    private readonly scheduler: FairScheduler,
    private readonly onClosed: () => void,
  ) {
    this.decoder = new FrameDecoder(options.maxFrameBytes);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('close', () => this.onClose());
    this.handshakeTimer = setTimeout(
      () => this.fail('timeout', `no hello within ${formatDuration(options.handshakeTimeoutMs)}`),
      options.handshakeTimeoutMs,
    );
    this.send(serverHello() as unknown as Record<string, unknown>);
    this.resetIdle();
  }

  /** Nothing in flight: closing it loses no answer. */
  get idle(): boolean {
    return this.inFlight.size === 0 && !this.hungUp && !this.closed;
  }

  /** Closed to make room for a new connection at the server's limit. */
  evict(limit: number): void {
    this.fail(
      'busy',
      `closed: idle the longest while the server was at its limit of ${limit} connections; connect again when needed`,
    );
  }

  /** Server shutdown: answer nothing new, let requests in flight finish (bounded), then hang up. */
  async shutdown(graceMs: number): Promise<void> {
    if (this.closed) return;
    this.draining = true;
    if (this.inFlight.size > 0) {
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        Promise.allSettled([...this.inFlight]),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        }),
      ]);
      clearTimeout(timer);
    }
    await this.hangUp();
  }

  private onData(chunk: Buffer): void {
    if (this.hungUp || this.closed) return;
    this.resetIdle();
    const wasMidFrame = this.decoder.midFrame;
    const frames = this.decoder.push(chunk);
    for (const decoded of frames) {
      if (this.hungUp || this.closed) return;
      if (!decoded.ok) this.onBadFrame(decoded.error);
      else if (!this.handshaken) this.onHello(decoded.frame);
      else this.onRequest(decoded.frame);
    }
    this.watchFrame(wasMidFrame && frames.length === 0);
  }

  private onBadFrame(error: FrameError): void {
    if (error.fatal) this.fail('too-large', error.message);
    else if (!this.handshaken) this.fail('bad-request', `bad hello: ${error.message}`);
    else this.reply({ id: null, ok: false, error: { kind: 'bad-request', message: error.message } });
  }

  private onHello(frame: Record<string, unknown>): void {
    try {
      parseClientHello(frame);
    } catch (error) {
      this.fail(error instanceof InvalidMessage ? error.kind : 'bad-request', messageOf(error));
      return;
    }
    clearTimeout(this.handshakeTimer);
    this.handshakeTimer = undefined;
    this.handshaken = true;
  }

  private onRequest(frame: Record<string, unknown>): void {
    let request: IpcRequest;
    try {
      request = parseRequest(frame);
    } catch (error) {
      const id = error instanceof InvalidMessage ? error.id : null;
      const kind = error instanceof InvalidMessage ? error.kind : 'bad-request';
      this.reply({ id, ok: false, error: { kind, message: messageOf(error) } });
      return;
    }
    const refusal = this.refusal(request);
    if (refusal !== undefined) {
      this.reply({ id: request.id, ok: false, error: refusal });
      return;
    }
    this.schedule(request);
  }

  /**
   * Queues the request for its turn. At its deadline it is answered `timeout`: taken out of the
   * queue if it has not started, its handler's signal aborted if it runs. It stays in flight (and
   * holds its scheduler slot) until its handler returns, so abandoned work is still counted.
   */
  private schedule(request: IpcRequest): void {
    const controller = new AbortController();
    let answered = false;
    const answer = (response: IpcResponse) => {
      if (answered) return;
      answered = true;
      clearTimeout(timer);
      this.reply(response);
    };
    let settle!: () => void;
    const task = new Promise<void>((resolve) => {
      settle = resolve;
    });
    const cancel = () => {
      // Also when the client left: a pending deadline timer would keep the process alive for it.
      clearTimeout(timer);
      if (ticket.cancel()) settle();
      else controller.abort(new Error(`request ${request.id} cancelled`));
    };
    this.inFlight.add(task);
    this.cancels.add(cancel);
    void task.then(() => {
      this.inFlight.delete(task);
      this.cancels.delete(cancel);
      this.resetIdle();
    });
    const timeoutMs = this.options.requestTimeoutMs;
    const timer = setTimeout(() => {
      answer({
        id: request.id,
        ok: false,
        error: {
          kind: 'timeout',
          message: `no answer within ${formatDuration(timeoutMs)} (the server is busy); retry`,
        },
      });
      cancel();
    }, timeoutMs);
    const ticket = this.scheduler.enqueue(this, async () => {
      try {
        const result = await this.dispatch(request, controller.signal);
        answer({ id: request.id, ok: true, result });
      } catch (error) {
        answer({ id: request.id, ok: false, error: errorBody(error) });
      } finally {
        settle();
      }
    });
  }

  private refusal(request: IpcRequest): IpcErrorBody | undefined {
    if (this.draining) {
      return {
        kind: 'unavailable',
        message: `ipc server ${process.pid} is shutting down; retry`,
        reason: 'shutting-down',
      };
    }
    if (!isIpcMethod(request.method)) {
      return {
        kind: 'unknown-method',
        message: `unknown method '${request.method.slice(0, 60)}'; known: search, status`,
      };
    }
    if (this.inFlight.size >= this.options.maxInFlight) {
      return {
        kind: 'busy',
        message: `${this.inFlight.size} requests in flight on this connection, its limit`,
      };
    }
    return undefined;
  }

  private async dispatch(request: IpcRequest, signal: AbortSignal): Promise<unknown> {
    switch (request.method) {
      case 'search':
        return this.handlers.search(parseSearchParams(request.params, request.id), signal);
      case 'status':
        return this.handlers.status(signal);
      case 'catch-up':
        if (this.handlers.catchUp !== undefined) return this.handlers.catchUp(signal);
        throw new InvalidMessage(
          'unknown-method',
          `this server does not catch up (method '${request.method}')`,
          request.id,
        );
      default:
        throw new InvalidMessage('unknown-method', `unknown method '${request.method}'`, request.id);
    }
  }

  private reply(response: IpcResponse): void {
    if (this.closed) return;
    let frame: Buffer;
    try {
      frame = encodeFrame(response as unknown as Record<string, unknown>, this.options.maxFrameBytes);
    } catch (error) {
      const kind = error instanceof FrameError ? 'too-large' : 'internal';
      const message =
        error instanceof FrameError
          ? `the response is over the frame limit: ${error.message}`
          : `the response cannot be encoded: ${messageOf(error)}`;
      frame = encodeFrame({ id: response.id, ok: false, error: { kind, message } });
    }
    this.write(frame);
  }

  private send(message: Record<string, unknown>): void {
    this.write(encodeFrame(message, this.options.maxFrameBytes));
  }

  private write(frame: Buffer): void {
    if (this.socket.destroyed || !this.socket.writable) return;
    // A client that sends but never reads must not make us buffer without bound.
    if (this.socket.writableLength > 4 * this.options.maxFrameBytes) {
      this.destroy();
      return;
    }
    this.socket.write(frame);
    this.resetIdle();
  }

  /** Answers one last error (no id) and hangs up. */
  private fail(kind: string, message: string): void {
    if (this.hungUp || this.closed) return;
    this.write(encodeFrame({ id: null, ok: false, error: { kind, message } }));
    void this.hangUp();
  }

  /** A started frame must be whole within frameTimeoutMs; a stalled partial frame drops the client. */
  private watchFrame(keepRunning: boolean): void {
    if (!this.decoder.midFrame) {
      clearTimeout(this.frameTimer);
      this.frameTimer = undefined;
      return;
    }
    if (keepRunning && this.frameTimer !== undefined) return;
    clearTimeout(this.frameTimer);
    this.frameTimer = setTimeout(
      () => this.fail('timeout', `frame incomplete after ${formatDuration(this.options.frameTimeoutMs)}`),
      this.options.frameTimeoutMs,
    );
  }

  /** Closes a connection with nothing in flight and no traffic for idleTimeoutMs. */
  private resetIdle(): void {
    this.lastActivity = performance.now();
    clearTimeout(this.idleTimer);
    this.idleTimer = undefined;
    if (this.options.idleTimeoutMs <= 0 || this.closed || this.hungUp) return;
    this.idleTimer = setTimeout(() => {
      if (this.inFlight.size === 0 && !this.decoder.midFrame) void this.hangUp();
      else this.resetIdle();
    }, this.options.idleTimeoutMs);
    this.idleTimer.unref();
  }

  /** Flushes what we wrote, sends FIN, and destroys the socket if the peer does not close soon. */
  private hangUp(): Promise<void> {
    this.hungUp = true;
    clearTimeout(this.frameTimer);
    clearTimeout(this.idleTimer);
    if (this.closed || this.socket.destroyed) {
      this.destroy();
      return Promise.resolve();
    }
    this.hangingUp ??= new Promise<void>((resolve) => {
      const timer = setTimeout(() => this.destroy(), 500);
      this.socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.socket.end();
    });
    return this.hangingUp;
  }

  private destroy(): void {
    this.socket.destroy();
    this.onClose();
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    this.hungUp = true;
    clearTimeout(this.handshakeTimer);
    clearTimeout(this.frameTimer);
    clearTimeout(this.idleTimer);
    // Nobody will read the answers: queued requests never start, running ones are told to stop.
    for (const cancel of [...this.cancels]) cancel();
    this.onClosed();
  }
}

/**
 * The wire form of a handler's failure: IpcUnavailableError is `unavailable` with its reason (a
 * reader that found its owner frozen says `timeout`, not "shutting down"), DuckDB's classified.
 */
function errorBody(error: unknown): IpcErrorBody {
  if (error instanceof IpcUnavailableError) {
    return { kind: 'unavailable', message: error.message, reason: error.reason };
  }
  if (error instanceof InvalidMessage) return { kind: error.kind, message: error.message };
  if (error instanceof EmbecodeError) {
    const cause = error.cause !== undefined ? ` (${messageOf(error.cause)})` : '';
    return { kind: error.kind, message: `${error.message}${cause}` };
  }
  const kind = errorKindOf(error);
  return { kind: kind === 'other' ? 'internal' : kind, message: messageOf(error) };
}

/**
 * Before binding: a socket file that nobody listens on is removed; a live server, or a file that
 * is not a socket, is refused with a clear error.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw new EmbecodeError('io', `cannot inspect ${socketPath}: ${messageOf(error)}`, { cause: error });
  }
  if (!stat.isSocket()) {
    throw new EmbecodeError(
      'io',
      `${socketPath} exists and is not a socket; refusing to replace it (remove it)`,
    );
  }
  const probe = await probeSocket(socketPath);
  if (probe.state === 'live') {
    throw new EmbecodeError(
      'locked',
      `an ipc server${probe.pid === undefined ? '' : ` (process ${probe.pid})`} already listens on ${socketPath}; stop it first, or talk to it`,
    );
  }
  if (probe.state === 'unknown') {
    throw new EmbecodeError(
      'io',
      `cannot tell whether ${socketPath} is in use (${probe.why}); refusing to replace it`,
    );
  }
  try {
    unlinkSync(socketPath);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new EmbecodeError('io', `cannot remove stale socket ${socketPath}: ${messageOf(error)}`, {
        cause: error,
      });
    }
  }
}

type Probe = { state: 'live'; pid?: number } | { state: 'stale' } | { state: 'unknown'; why: string };

/** Connects to an existing socket file: refused means stale; anything that accepts is live. */
function probeSocket(socketPath: string): Promise<Probe> {
  return new Promise((resolve) => {
    const socket = createConnection(socketPath);
    const decoder = new FrameDecoder();
    let connected = false;
    let settled = false;
    const finish = (outcome: Probe) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(outcome);
    };
    // Accepting is enough to call it live; waiting for the hello only names its PID.
    const timer = setTimeout(
      () =>
        finish(
          connected ? { state: 'live' } : { state: 'unknown', why: `no answer in ${PROBE_TIMEOUT_MS} ms` },
        ),
      PROBE_TIMEOUT_MS,
    );
    socket.on('connect', () => {
      connected = true;
    });
    socket.on('data', (chunk: Buffer) => {
      for (const decoded of decoder.push(chunk)) {
        if (!decoded.ok) continue;
        try {
          finish({ state: 'live', pid: parseServerHello(decoded.frame).pid });
        } catch {
          finish({ state: 'live' });
        }
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      // ECONNREFUSED: a file nobody listens on. ENOENT: it went away meanwhile. Both: stale.
      if (error.code === 'ECONNREFUSED' || error.code === 'ENOENT') finish({ state: 'stale' });
      else finish(connected ? { state: 'live' } : { state: 'unknown', why: error.message });
    });
    socket.on('close', () => finish(connected ? { state: 'live' } : { state: 'stale' }));
  });
}
