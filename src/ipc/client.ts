import { createConnection, type Socket } from 'node:net';
import { dirname } from 'node:path';
import { EmbecodeError } from '../errors.js';
import { messageOf } from '../index/duckdb-errors.js';
import type { SearchOptions, SearchResult } from '../index/types.js';
import { IpcRemoteError, IpcUnavailableError } from './errors.js';
import { DEFAULT_MAX_FRAME_BYTES, type DecodedFrame, encodeFrame, FrameDecoder } from './frame-codec.js';
import {
  clientHello,
  InvalidMessage,
  type IpcCatchUp,
  type IpcMethod,
  type IpcParams,
  type IpcResults,
  type IpcStatus,
  parseCatchUp,
  parseResponse,
  parseSearchResult,
  parseServerHello,
  parseStatus,
  type ServerHello,
  searchParams,
} from './messages.js';
import { checkPrivateDir, checkSocketPathLength } from './socket-dir.js';

export interface IpcClientOptions {
  /** Connect and handshake must finish within this (default 2 s). */
  readonly connectTimeoutMs?: number;
  /** Default time a request may take (default 30 s); `request` can override it. */
  readonly requestTimeoutMs?: number;
  /** Largest frame body accepted or sent (default 1 MiB). */
  readonly maxFrameBytes?: number;
}

const DEFAULTS = {
  connectTimeoutMs: 2_000,
  requestTimeoutMs: 30_000,
  maxFrameBytes: DEFAULT_MAX_FRAME_BYTES,
};

/**
 * A connection to an ipc server (the owner). Requests carry ids, so several can be in flight on
 * the one connection. When the owner is gone every call fails with IpcUnavailableError (retryable);
 * the next call after it came back connects again on its own.
 *
 * A request that was sent on an already open connection, and lost because that connection closed
 * before the answer came, is sent once more on a fresh connection: the methods are read-only, and
 * a server that stopped between two requests (an owner releasing and re-acquiring) would otherwise
 * fail the first request after it came back.
 */
export class IpcClient {
  private readonly options: typeof DEFAULTS;
  private connection: Connection | undefined;
  private connecting: Promise<Connection> | undefined;
  private nextId = 1;
  private closedByUser = false;

  constructor(
    readonly socketPath: string,
    options: IpcClientOptions = {},
  ) {
    this.options = { ...DEFAULTS, ...options };
    checkSocketPathLength(socketPath);
  }

  /** True while a connection is open (it may still be closed by the server at any time). */
  get connected(): boolean {
    return this.connection?.alive === true;
  }

  /** The PID of the server this client last shook hands with. */
  get serverPid(): number | undefined {
    return this.connection?.hello.pid;
  }

  /** Connects and shakes hands, unless already connected. Rejects with IpcUnavailableError if nobody serves. */
  async connect(): Promise<ServerHello> {
    this.closedByUser = false;
    return (await this.ensureConnection()).hello;
  }

  async request<M extends IpcMethod>(
    method: M,
    params: IpcParams[M],
    timeoutMs = this.options.requestTimeoutMs,
  ): Promise<IpcResults[M]> {
    if (this.closedByUser) {
      throw new EmbecodeError('usage', `ipc client for ${this.socketPath} is closed; connect it again first`);
    }
    const id = this.nextId++;
    for (let attempt = 0; ; attempt++) {
      const reused = this.connection?.alive === true;
      const connection = await this.ensureConnection();
      try {
        return validate(method, await connection.send(id, method, params, timeoutMs));
      } catch (error) {
        if (error instanceof ConnectionLost) {
          if (this.closedByUser) {
            throw new EmbecodeError(
              'usage',
              `ipc client for ${this.socketPath} was closed before '${method}' was answered`,
            );
          }
          if (reused && attempt === 0) continue;
          throw error.unavailable(method);
        }
        throw error;
      }
    }
  }

  search(query: string, options: SearchOptions = {}, timeoutMs?: number): Promise<SearchResult[]> {
    return this.request('search', searchParams(query, options), timeoutMs);
  }

  status(timeoutMs?: number): Promise<IpcStatus> {
    return this.request('status', {}, timeoutMs);
  }

  /** Asks the owner to catch up with the project now; answers once it has (idempotent, so resent like the reads). */
  catchUp(timeoutMs?: number): Promise<IpcCatchUp> {
    return this.request('catch-up', {}, timeoutMs);
  }

  /** Ends the connection; requests in flight fail. Safe to call twice; `connect` opens again. */
  async close(): Promise<void> {
    this.closedByUser = true;
    const connection = this.connection;
    this.connection = undefined;
    const connecting = this.connecting;
    this.connecting = undefined;
    await connection?.close();
    if (connecting !== undefined) await (await connecting.catch(() => undefined))?.close();
  }

  private async ensureConnection(): Promise<Connection> {
    if (this.connection?.alive === true) return this.connection;
    this.connection = undefined;
    if (this.connecting === undefined) {
      const attempt = Connection.open(this.socketPath, this.options);
      this.connecting = attempt;
      attempt.then(
        (connection) => {
          if (this.connecting !== attempt) return;
          this.connecting = undefined;
          this.connection = connection;
        },
        () => {
          if (this.connecting === attempt) this.connecting = undefined;
        },
      );
    }
    const connection = await this.connecting;
    if (this.closedByUser) {
      await connection.close();
      throw new EmbecodeError('usage', `ipc client for ${this.socketPath} was closed while connecting`);
    }
    return connection;
  }
}

function validate<M extends IpcMethod>(method: M, result: unknown): IpcResults[M] {
  try {
    const parse = { search: parseSearchResult, status: parseStatus, 'catch-up': parseCatchUp }[method];
    return parse(result) as IpcResults[M];
  } catch (error) {
    throw new EmbecodeError('protocol', `ipc server sent a malformed ${method} result: ${messageOf(error)}`);
  }
}

/** The connection closed before the answer came. Internal: the client retries or converts it. */
class ConnectionLost extends Error {
  constructor(
    readonly socketPath: string,
    readonly why: string,
  ) {
    super(why);
  }

  unavailable(method: string): IpcUnavailableError {
    return new IpcUnavailableError(
      'closed',
      `the owner serving ${this.socketPath} closed the connection before answering '${method}' (${this.why}); retry: a new owner may take over`,
    );
  }
}

interface Pending {
  readonly resolve: (result: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly timer: NodeJS.Timeout;
}

/** One open, handshaken socket with its requests in flight. */
class Connection {
  private readonly pending = new Map<number, Pending>();
  private isAlive = true;
  private closeReason = 'connection closed';

  private constructor(
    private readonly socket: Socket,
    private readonly decoder: FrameDecoder,
    readonly hello: ServerHello,
    private readonly socketPath: string,
    private readonly maxFrameBytes: number,
  ) {
    socket.on('data', (chunk: Buffer) => this.onFrames(this.decoder.push(chunk)));
    socket.on('error', (error) => {
      this.closeReason = messageOf(error);
    });
    socket.on('close', () => this.onClose());
  }

  get alive(): boolean {
    return this.isAlive && !this.socket.destroyed && this.socket.writable;
  }

  /** Connects, sends our hello, waits for the server's, within `connectTimeoutMs`. */
  static open(socketPath: string, options: typeof DEFAULTS): Promise<Connection> {
    try {
      // A socket in a directory someone else controls could be anyone's: refuse before connecting.
      if (checkPrivateDir(dirname(socketPath)) === 'missing') {
        return Promise.reject(noSocket(socketPath));
      }
    } catch (error) {
      return Promise.reject(error);
    }
    return new Promise<Connection>((resolve, reject) => {
      const socket = createConnection(socketPath);
      const decoder = new FrameDecoder(options.maxFrameBytes);
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.destroy();
        reject(error);
      };
      const timer = setTimeout(
        () =>
          fail(
            new IpcUnavailableError(
              'timeout',
              `no ipc handshake from ${socketPath} within ${options.connectTimeoutMs} ms; the owner may be busy or hung; retry`,
            ),
          ),
        options.connectTimeoutMs,
      );
      socket.on('connect', () => {
        socket.write(encodeFrame(clientHello() as unknown as Record<string, unknown>));
      });
      socket.on('error', (error: NodeJS.ErrnoException) => fail(connectError(socketPath, error)));
      socket.on('close', () =>
        fail(
          new IpcUnavailableError(
            'closed',
            `the ipc server at ${socketPath} closed the connection during the handshake; retry`,
          ),
        ),
      );
      const onData = (chunk: Buffer) => {
        const frames = decoder.push(chunk);
        const first = frames[0];
        if (settled || first === undefined) return;
        if (!first.ok) {
          fail(new EmbecodeError('protocol', `bad handshake from ${socketPath}: ${first.error.message}`));
          return;
        }
        if (first.frame.ok === false) {
          fail(handshakeRefusal(socketPath, first.frame));
          return;
        }
        let hello: ServerHello;
        try {
          hello = parseServerHello(first.frame);
        } catch (error) {
          const what =
            error instanceof InvalidMessage && error.kind === 'version' ? 'version mismatch' : 'bad hello';
          fail(new EmbecodeError('protocol', `ipc ${what} from ${socketPath}: ${messageOf(error)}`));
          return;
        }
        settled = true;
        clearTimeout(timer);
        socket.off('data', onData);
        socket.removeAllListeners('error');
        socket.removeAllListeners('close');
        socket.removeAllListeners('connect');
        const connection = new Connection(socket, decoder, hello, socketPath, options.maxFrameBytes);
        // Frames that arrived with the hello (an error that ends the connection, say).
        connection.onFrames(frames.slice(1));
        resolve(connection);
      };
      socket.on('data', onData);
    });
  }

  send(id: number, method: IpcMethod, params: unknown, timeoutMs: number): Promise<unknown> {
    if (!this.alive) return Promise.reject(new ConnectionLost(this.socketPath, this.closeReason));
    let frame: Buffer;
    try {
      frame = encodeFrame({ id, method, params } as Record<string, unknown>, this.maxFrameBytes);
    } catch (error) {
      return Promise.reject(
        new EmbecodeError('usage', `ipc request '${method}' cannot be sent: ${messageOf(error)}`),
      );
    }
    return new Promise<unknown>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(
          new IpcUnavailableError(
            'timeout',
            `the owner serving ${this.socketPath} (process ${this.hello.pid}) did not answer '${method}' within ${timeoutMs} ms; retry`,
          ),
        );
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  close(): Promise<void> {
    if (this.socket.destroyed) return Promise.resolve();
    return new Promise<void>((resolve) => {
      this.socket.once('close', () => resolve());
      this.closeReason = 'closed by this client';
      this.socket.destroy();
    });
  }

  onFrames(frames: readonly DecodedFrame[]): void {
    for (const decoded of frames) {
      if (!decoded.ok) {
        this.abort(
          new EmbecodeError(
            'protocol',
            `bad frame from ipc server ${this.hello.pid}: ${decoded.error.message}`,
          ),
        );
        return;
      }
      let response: ReturnType<typeof parseResponse>;
      try {
        response = parseResponse(decoded.frame);
      } catch (error) {
        this.abort(
          new EmbecodeError(
            'protocol',
            `bad response from ipc server ${this.hello.pid}: ${messageOf(error)}`,
          ),
        );
        return;
      }
      if (response.id === null) {
        // The server could not tie an error to a request: it concerns the connection as a whole.
        const error = response.ok ? undefined : response.error;
        this.abort(remoteError(this.socketPath, error?.kind ?? 'internal', error?.message ?? 'unknown'));
        return;
      }
      const waiter = this.pending.get(response.id);
      if (waiter === undefined) continue; // Its caller timed out already.
      this.pending.delete(response.id);
      clearTimeout(waiter.timer);
      if (response.ok) waiter.resolve(response.result);
      else waiter.reject(remoteError(this.socketPath, response.error.kind, response.error.message));
    }
  }

  /** Fails every request in flight with `error` and drops the connection. */
  private abort(error: Error): void {
    this.isAlive = false;
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.pending.clear();
    this.socket.destroy();
  }

  private onClose(): void {
    this.isAlive = false;
    const lost = new ConnectionLost(this.socketPath, this.closeReason);
    for (const waiter of this.pending.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(lost);
    }
    this.pending.clear();
  }
}

function remoteError(socketPath: string, kind: string, message: string): Error {
  if (kind === 'unavailable') return new IpcUnavailableError('shutting-down', `${socketPath}: ${message}`);
  if (kind === 'busy') return new IpcUnavailableError('busy', `${socketPath}: ${message}`);
  if (kind === 'timeout') return new IpcUnavailableError('timeout', `${socketPath}: ${message}`);
  return new IpcRemoteError(kind, message);
}

function handshakeRefusal(socketPath: string, frame: Record<string, unknown>): Error {
  const error = (frame.error ?? {}) as Record<string, unknown>;
  const kind = typeof error.kind === 'string' ? error.kind : 'internal';
  const message = typeof error.message === 'string' ? error.message : 'no reason given';
  if (kind === 'version')
    return new EmbecodeError('protocol', `ipc version mismatch with ${socketPath}: ${message}`);
  return remoteError(socketPath, kind, `refused the connection: ${message}`);
}

function noSocket(socketPath: string): IpcUnavailableError {
  return new IpcUnavailableError(
    'no-socket',
    `no owner is serving ${socketPath} (no socket there): it is not running or not ready yet; retry, or start \`embecode serve\``,
  );
}

function connectError(socketPath: string, error: NodeJS.ErrnoException): Error {
  switch (error.code) {
    case 'ENOENT':
      return noSocket(socketPath);
    case 'ECONNREFUSED':
      return new IpcUnavailableError(
        'refused',
        `nobody listens on ${socketPath} (a stale socket): the owner is gone or not ready yet; retry`,
        { cause: error },
      );
    case 'ECONNRESET':
    case 'EPIPE':
      return new IpcUnavailableError(
        'closed',
        `the ipc server at ${socketPath} hung up during the handshake; retry`,
        {
          cause: error,
        },
      );
    case 'EAGAIN':
      return new IpcUnavailableError(
        'busy',
        `the ipc server at ${socketPath} is not accepting connections; retry`,
        {
          cause: error,
        },
      );
    case 'EACCES':
    case 'EPERM':
      return new EmbecodeError('io', `no permission to connect to ${socketPath}: ${error.message}`, {
        cause: error,
      });
    default:
      return new EmbecodeError('io', `cannot connect to ${socketPath}: ${error.message}`, { cause: error });
  }
}
