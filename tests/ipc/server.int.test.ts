import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { createConnection, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { SerialQueue } from '../../src/index/serial-queue.js';
import type { SearchResult } from '../../src/index/types.js';
import { IpcClient } from '../../src/ipc/client.js';
import { IpcRemoteError, IpcUnavailableError, isRetryableIpcError } from '../../src/ipc/errors.js';
import { type DecodedFrame, encodeFrame, FrameDecoder } from '../../src/ipc/frame-codec.js';
import { IPC_PROTOCOL_VERSION, type IpcStatus, type SearchParams } from '../../src/ipc/messages.js';
import { type IpcHandlers, IpcServer, type IpcServerOptions } from '../../src/ipc/server.js';
import { ipcSocketPath } from '../../src/ipc/socket-dir.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * The ipc server and client over real Unix sockets in temp directories. The handlers are fakes
 * (the point here is the transport); tests/strategies/ipc.int.test.ts serves a real index.
 */

const servers = new Set<IpcServer>();
const clients = new Set<IpcClient>();
const sockets = new Set<Socket>();
const children = new Set<ReturnType<typeof execa>>();

afterEach(async () => {
  for (const s of sockets) s.destroy();
  sockets.clear();
  await Promise.all([...clients].map((c) => c.close()));
  clients.clear();
  await Promise.all([...servers].map((s) => s.close()));
  servers.clear();
  for (const child of children) child.kill('SIGKILL');
  await Promise.all([...children].map((c) => c.catch(() => undefined)));
  children.clear();
  await removeTempDirs();
});

/** A fake index: `query` comes back as the one result's path; `slow:N` answers after N ms; `fail` fails. */
const handlers: IpcHandlers = {
  async search(params: SearchParams): Promise<SearchResult[]> {
    const slow = /^slow:(\d+)/.exec(params.query);
    if (slow?.[1] !== undefined) await new Promise((r) => setTimeout(r, Number(slow[1])));
    if (params.query === 'fail') throw new EmbecodeError('corrupt', 'index is damaged');
    if (params.query === 'huge') {
      return Array.from({ length: 100 }, (_, i) => result(`f${i}`, 'x'.repeat(1000)));
    }
    return [result(params.query, `${params.mode ?? 'hybrid'}:${params.topK ?? 10}`)];
  },
  async status(): Promise<IpcStatus> {
    return { pid: process.pid, db: '/fake/index.db', holding: true, files: 3, chunks: 7 };
  },
};

function result(path: string, preview: string): SearchResult {
  return { path, startLine: 1, endLine: 2, score: 0.5, preview };
}

async function socketIn(dir?: string): Promise<string> {
  return ipcSocketPath(dir ?? (await makeTempDir('embecode-ipc-')));
}

async function serve(
  path: string,
  options: IpcServerOptions = {},
  with_: IpcHandlers = handlers,
): Promise<IpcServer> {
  const server = await IpcServer.listen(path, with_, options);
  servers.add(server);
  return server;
}

function client(path: string, options = {}): IpcClient {
  const c = new IpcClient(path, options);
  clients.add(c);
  return c;
}

/** A raw connection that records every frame the server sends, and when it closed. */
interface Raw {
  readonly socket: Socket;
  readonly frames: DecodedFrame[];
  readonly closed: Promise<void>;
  /** Resolves with the next frame that satisfies `match` (or any next frame). */
  next(match?: (f: Record<string, unknown>) => boolean): Promise<Record<string, unknown>>;
  send(value: Record<string, unknown>): void;
}

async function raw(path: string, hello = true): Promise<Raw> {
  const socket = createConnection(path);
  sockets.add(socket);
  socket.on('error', () => undefined);
  const decoder = new FrameDecoder();
  const frames: DecodedFrame[] = [];
  /** Frames not yet taken by `next`. */
  const unread: Record<string, unknown>[] = [];
  const waiters: {
    match: (f: Record<string, unknown>) => boolean;
    resolve: (f: Record<string, unknown>) => void;
  }[] = [];
  socket.on('data', (chunk: Buffer) => {
    for (const d of decoder.push(chunk)) {
      frames.push(d);
      if (!d.ok) continue;
      const i = waiters.findIndex((w) => w.match(d.frame));
      if (i >= 0) waiters.splice(i, 1)[0]?.resolve(d.frame);
      else unread.push(d.frame);
    }
  });
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const r: Raw = {
    socket,
    frames,
    closed,
    next(match = () => true) {
      const i = unread.findIndex(match);
      if (i >= 0) return Promise.resolve(unread.splice(i, 1)[0] as Record<string, unknown>);
      return new Promise((resolve) => waiters.push({ match, resolve }));
    },
    send(value) {
      socket.write(encodeFrame(value));
    },
  };
  if (hello) r.send({ hello: 'embecode-ipc', version: IPC_PROTOCOL_VERSION });
  return r;
}

function frameBytes(body: string): Buffer {
  const bytes = Buffer.from(body);
  const header = Buffer.alloc(4);
  header.writeUInt32BE(bytes.length, 0);
  return Buffer.concat([header, bytes]);
}

/** After each misbehaving client: a fresh, well-behaved client still gets correct answers. */
async function othersStillServed(path: string): Promise<void> {
  const c = client(path);
  const [a, b] = await Promise.all([c.search('alpha', { mode: 'bm25', topK: 3 }), c.status()]);
  expect(a).toEqual([result('alpha', 'bm25:3')]);
  expect(b).toMatchObject({ pid: process.pid, files: 3 });
  await c.close();
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('ipc handshake', () => {
  it('exchanges versions on connect and names the server process', async () => {
    const path = await socketIn();
    await serve(path);
    const c = client(path);
    expect(await c.connect()).toEqual({
      hello: 'embecode-ipc',
      version: IPC_PROTOCOL_VERSION,
      pid: process.pid,
    });
    expect(c.serverPid).toBe(process.pid);
    expect(await c.status()).toEqual({
      pid: process.pid,
      db: '/fake/index.db',
      holding: true,
      files: 3,
      chunks: 7,
    });
  });

  it('the directory is 0700 and the socket 0600', async () => {
    const path = await socketIn();
    await serve(path);
    expect(statSync(join(path, '..')).mode & 0o777).toBe(0o700);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(path).isSocket()).toBe(true);
  });

  it('a client of another protocol version is told so and disconnected; others are served', async () => {
    const path = await socketIn();
    await serve(path);
    const r = await raw(path, false);
    expect(await r.next()).toEqual({
      hello: 'embecode-ipc',
      version: IPC_PROTOCOL_VERSION,
      pid: process.pid,
    });
    r.send({ hello: 'embecode-ipc', version: 99 });
    expect(await r.next()).toEqual({
      id: null,
      ok: false,
      error: {
        kind: 'version',
        message: expect.stringMatching(/client speaks ipc protocol version 99, this server speaks 1/),
      },
    });
    await r.closed;
    await othersStillServed(path);
  });

  it('a server of another protocol version gives the client a clear protocol error', async () => {
    const dir = join(await makeTempDir('embecode-ipc-'), 'ipc');
    mkdirSync(dir, { mode: 0o700 });
    const path = join(dir, 'owner.sock');
    const fake = createServer((socket) => {
      socket.on('error', () => undefined);
      socket.resume(); // read, so that the client's hang-up is seen and the server can close
      socket.write(encodeFrame({ hello: 'embecode-ipc', version: 2, pid: 4242 }));
    });
    await new Promise<void>((resolve) => fake.listen(path, resolve));
    try {
      const error = await rejection(client(path).connect());
      expect(error).toBeInstanceOf(EmbecodeError);
      expect(error).toMatchObject({ kind: 'protocol' });
      expect((error as Error).message).toMatch(
        /^ipc version mismatch from .*owner\.sock: server speaks ipc protocol version 2, this client speaks 1; run the same embecode version on both sides$/,
      );
      expect(isRetryableIpcError(error)).toBe(false);
    } finally {
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });

  it('a client that never says hello is dropped after the handshake timeout', async () => {
    const path = await socketIn();
    await serve(path, { handshakeTimeoutMs: 100 });
    const r = await raw(path, false);
    await r.closed;
    const frames = r.frames.filter((d) => d.ok).map((d) => (d.ok ? d.frame : {}));
    expect(frames.at(-1)).toMatchObject({ id: null, ok: false, error: { kind: 'timeout' } });
    await othersStillServed(path);
  });

  it('a first frame that is not a hello is refused', async () => {
    const path = await socketIn();
    await serve(path);
    const r = await raw(path, false);
    r.send({ id: 1, method: 'status' });
    expect(await r.next((f) => f.ok === false)).toMatchObject({ id: null, error: { kind: 'bad-request' } });
    await r.closed;
    await othersStillServed(path);
  });
});

describe('ipc requests', () => {
  it('several requests in flight on one connection are answered by id, out of order', async () => {
    const path = await socketIn();
    // Enough requests may run at once for the slow ones not to hold the others back.
    await serve(path, { maxConcurrentRequests: 8 });
    const c = client(path);
    await c.connect();
    const order: string[] = [];
    const queries = [
      'slow:120',
      'slow:60',
      'fast',
      'slow:30',
      'b',
      'c',
      ...Array.from({ length: 20 }, (_, i) => `q${i}`),
    ];
    const results = await Promise.all(
      queries.map((q) =>
        c.search(q, { mode: 'vector' }).then((r) => {
          order.push(q);
          return r;
        }),
      ),
    );
    expect(results.map((r) => r[0]?.path)).toEqual(queries);
    // The slowest was sent first and answered last: the answers did not wait for each other.
    expect(order.at(-1)).toBe('slow:120');
    expect(order.indexOf('fast')).toBeLessThan(order.indexOf('slow:30'));
  });

  it('a frame that is not JSON gets an error reply; the same connection then still works', async () => {
    const path = await socketIn();
    await serve(path);
    const r = await raw(path);
    await r.next((f) => f.hello !== undefined);
    r.socket.write(frameBytes('this is not json'));
    expect(await r.next((f) => f.ok === false)).toEqual({
      id: null,
      ok: false,
      error: { kind: 'bad-request', message: expect.stringMatching(/^frame body is not JSON/) },
    });
    r.send({ id: 7, method: 'search', params: { query: 'after' } });
    expect(await r.next((f) => f.id === 7)).toEqual({
      id: 7,
      ok: true,
      result: [result('after', 'hybrid:10')],
    });
    await othersStillServed(path);
  });

  it('a frame over the limit is refused at its header and the connection closed', async () => {
    const path = await socketIn();
    await serve(path, { maxFrameBytes: 1024 });
    const r = await raw(path);
    const header = Buffer.alloc(4);
    header.writeUInt32BE(50 * 1024 * 1024, 0);
    r.socket.write(header);
    expect(await r.next((f) => f.ok === false)).toEqual({
      id: null,
      ok: false,
      error: { kind: 'too-large', message: 'frame announces 52428800 bytes, over the limit of 1024 bytes' },
    });
    await r.closed;
    await othersStillServed(path);
  });

  it('a response over the limit becomes a too-large error for that request only', async () => {
    const path = await socketIn();
    await serve(path, { maxFrameBytes: 4096 });
    const c = client(path, { maxFrameBytes: 4096 });
    const error = await rejection(c.search('huge'));
    expect(error).toBeInstanceOf(IpcRemoteError);
    expect(error).toMatchObject({ remoteKind: 'too-large', kind: 'protocol' });
    expect(await c.search('small')).toEqual([result('small', 'hybrid:10')]);
  });

  it('an unknown method gets an unknown-method error with its id; the connection stays', async () => {
    const path = await socketIn();
    await serve(path);
    const r = await raw(path);
    r.send({ id: 3, method: 'dropTables', params: {} });
    expect(await r.next((f) => f.id === 3)).toEqual({
      id: 3,
      ok: false,
      error: { kind: 'unknown-method', message: "unknown method 'dropTables'; known: search, status" },
    });
    r.send({ id: 4, method: 'status' });
    expect(await r.next((f) => f.id === 4)).toMatchObject({ id: 4, ok: true });

    const c = client(path);
    const error = await rejection(c.request('dropTables' as 'status', {}));
    expect(error).toBeInstanceOf(IpcRemoteError);
    expect(error).toMatchObject({ remoteKind: 'unknown-method', kind: 'protocol' });
    await othersStillServed(path);
  });

  it('malformed requests and params are answered with bad-request, naming the field', async () => {
    const path = await socketIn();
    await serve(path);
    const r = await raw(path);
    r.send({ method: 'status' });
    expect(await r.next((f) => f.ok === false)).toMatchObject({
      id: null,
      error: { kind: 'bad-request', message: expect.stringMatching(/"id"/) },
    });
    r.send({ id: 5, method: 'search', params: { mode: 'bm25' } });
    expect(await r.next((f) => f.id === 5)).toMatchObject({
      ok: false,
      error: { kind: 'bad-request', message: 'search needs a "query" string' },
    });
    r.send({ id: 6, method: 'search', params: { query: 'x', topK: -1 } });
    expect(await r.next((f) => f.id === 6)).toMatchObject({ ok: false, error: { kind: 'bad-request' } });
    r.send({ id: 8, method: 'search', params: [1] });
    expect(await r.next((f) => f.id === 8)).toMatchObject({ ok: false, error: { kind: 'bad-request' } });
    r.socket.write(frameBytes('[1,2,3]'));
    expect(await r.next((f) => f.ok === false)).toMatchObject({
      id: null,
      error: { kind: 'bad-request', message: expect.stringMatching(/JSON object/) },
    });
    await othersStillServed(path);
  });

  it('a handler failure reaches the caller with its kind', async () => {
    const path = await socketIn();
    await serve(path);
    const error = await rejection(client(path).search('fail'));
    expect(error).toBeInstanceOf(IpcRemoteError);
    expect(error).toMatchObject({ remoteKind: 'corrupt', kind: 'corrupt', message: 'index is damaged' });
  });

  it('a client that disconnects mid-frame is dropped cleanly', async () => {
    const path = await socketIn();
    const server = await serve(path);
    const r = await raw(path);
    await r.next((f) => f.hello !== undefined);
    const whole = encodeFrame({ id: 1, method: 'search', params: { query: 'cut short' } });
    r.socket.write(whole.subarray(0, whole.length - 5));
    await new Promise((resolve) => setTimeout(resolve, 20));
    r.socket.destroy();
    await r.closed;
    await waitFor(() => server.connectionCount === 0);
    await othersStillServed(path);
  });

  it('a client that stalls mid-frame is dropped after the frame timeout', async () => {
    const path = await socketIn();
    const server = await serve(path, { frameTimeoutMs: 100 });
    const r = await raw(path);
    r.socket.write(Buffer.from([0, 0, 0, 50, 0x7b]));
    await r.closed;
    expect(r.frames.at(-1)).toMatchObject({ ok: true, frame: { id: null, error: { kind: 'timeout' } } });
    await waitFor(() => server.connectionCount === 0);
    await othersStillServed(path);
  });

  it('a request that takes too long gets a timeout error; the client can also give up first', async () => {
    const path = await socketIn();
    await serve(path, { requestTimeoutMs: 50 });
    const c = client(path);
    const serverSide = await rejection(c.search('slow:300'));
    expect(serverSide).toBeInstanceOf(IpcUnavailableError);
    expect(serverSide).toMatchObject({ reason: 'timeout', retryable: true });

    const clientSide = await rejection(c.request('search', { query: 'slow:40' }, 10));
    expect(clientSide).toBeInstanceOf(IpcUnavailableError);
    expect((clientSide as Error).message).toMatch(/did not answer 'search' within 10 ms; retry$/);
    // The late answer is dropped and the connection goes on.
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(await c.search('later')).toEqual([result('later', 'hybrid:10')]);
  });

  it('an idle connection is closed by the server; the next request reconnects by itself', async () => {
    const path = await socketIn();
    const server = await serve(path, { idleTimeoutMs: 80 });
    const c = client(path);
    await c.connect();
    await waitFor(() => server.connectionCount === 0);
    expect(await c.search('again')).toEqual([result('again', 'hybrid:10')]);
  });

  it('connections over the limit, all with work in flight, are told busy (retryable); those within keep working', async () => {
    const path = await socketIn();
    await serve(path, { maxConnections: 1 });
    const first = client(path);
    await first.connect();
    const working = first.search('slow:300');
    const error = await rejection(client(path).connect());
    expect(error).toBeInstanceOf(IpcUnavailableError);
    expect(error).toMatchObject({ reason: 'busy', retryable: true });
    expect((error as Error).message).toContain('all with requests in flight');
    expect(await working).toEqual([result('slow:300', 'hybrid:10')]);
    expect(await first.search('still')).toEqual([result('still', 'hybrid:10')]);
  });
});

describe('ipc socket files and directories', () => {
  it('a stale socket file left by a SIGKILLed server is replaced', async () => {
    const path = await socketIn();
    mkdirSync(join(path, '..'), { mode: 0o700 });
    const child = execa(
      process.execPath,
      ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('ready'))`],
      { reject: false, buffer: false },
    );
    children.add(child);
    await new Promise<void>((resolve) => child.stdout?.once('data', () => resolve()));
    child.kill('SIGKILL');
    await child;
    expect(statSync(path).isSocket()).toBe(true);

    // Nobody listens there: a client is told so, and may retry.
    const error = await rejection(client(path).connect());
    expect(error).toBeInstanceOf(IpcUnavailableError);
    expect(error).toMatchObject({ reason: 'refused', retryable: true, kind: 'io' });
    expect((error as Error).message).toMatch(
      /^nobody listens on .*owner\.sock \(a stale socket\): the owner is gone or not ready yet; retry$/,
    );

    await serve(path);
    await othersStillServed(path);
  });

  it('a live server is not replaced: the second one is refused, naming the first', async () => {
    const path = await socketIn();
    await serve(path);
    const error = await rejection(IpcServer.listen(path, handlers));
    expect(error).toBeInstanceOf(EmbecodeError);
    expect(error).toMatchObject({ kind: 'locked' });
    expect((error as Error).message).toBe(
      `an ipc server (process ${process.pid}) already listens on ${path}; stop it first, or talk to it`,
    );
    await othersStillServed(path);
  });

  it('a file that is not a socket is not replaced', async () => {
    const path = await socketIn();
    mkdirSync(join(path, '..'), { mode: 0o700 });
    writeFileSync(path, 'precious');
    const error = await rejection(IpcServer.listen(path, handlers));
    expect((error as Error).message).toBe(
      `${path} exists and is not a socket; refusing to replace it (remove it)`,
    );
    expect(existsSync(path)).toBe(true);
  });

  it.each([0o777, 0o750, 0o701])(
    'a directory with mode %o is refused by the server and the client',
    async (mode) => {
      const path = await socketIn();
      const dir = join(path, '..');
      mkdirSync(dir);
      chmodSync(dir, mode);
      const error = await rejection(IpcServer.listen(path, handlers));
      expect(error).toMatchObject({ kind: 'io' });
      const shown = mode.toString(8).padStart(4, '0');
      expect((error as Error).message).toBe(
        `socket directory ${dir} has mode ${shown}: group or others have access; refusing it (chmod 700 it, or remove it)`,
      );
      const clientError = await rejection(client(path).connect());
      expect((clientError as Error).message).toMatch(/has mode .*refusing it/);
      expect(isRetryableIpcError(clientError)).toBe(false);
    },
  );

  it('a socket path too long for the kernel is refused with the reason', async () => {
    const path = join(await makeTempDir('embecode-ipc-'), 'x'.repeat(120), 'owner.sock');
    expect(() => new IpcClient(path)).toThrow(/over the 107-byte limit of Unix sockets/);
    await expect(IpcServer.listen(path, handlers)).rejects.toThrow(/over the 107-byte limit/);
  });

  it('close() lets requests in flight finish, ends every connection and removes the socket', async () => {
    const path = await socketIn();
    const server = await serve(path);
    const c = client(path);
    await c.connect();
    const slow = c.search('slow:100');
    await new Promise((resolve) => setTimeout(resolve, 20));
    await server.close();
    expect(await slow).toEqual([result('slow:100', 'hybrid:10')]);
    expect(existsSync(path)).toBe(false);
    expect(server.connectionCount).toBe(0);
    await server.close(); // twice is fine
  });
});

describe('ipc when the owner is gone or not ready', () => {
  it('a reader connecting before the owner is ready gets a clear retryable error, then connects', async () => {
    const path = await socketIn();
    const c = client(path);
    const error = await rejection(c.connect());
    expect(error).toBeInstanceOf(IpcUnavailableError);
    expect(error).toMatchObject({ reason: 'no-socket', retryable: true });
    expect((error as Error).message).toBe(
      `no owner is serving ${path} (no socket there): it is not running or not ready yet; retry, or start \`embecode serve\``,
    );
    await serve(path);
    await c.connect();
    expect(await c.search('now')).toEqual([result('now', 'hybrid:10')]);
  });

  it('after the owner stops, requests fail retryably; when it comes back the same client reconnects', async () => {
    const path = await socketIn();
    const first = await serve(path);
    const c = client(path);
    expect(await c.search('one')).toEqual([result('one', 'hybrid:10')]);
    await first.close();
    const gone = await rejection(c.search('two'));
    expect(gone).toBeInstanceOf(IpcUnavailableError);
    expect(isRetryableIpcError(gone)).toBe(true);
    await serve(path);
    expect(await c.search('three')).toEqual([result('three', 'hybrid:10')]);
  });

  it('a request right after the server restarted is not lost to the old, closed connection', async () => {
    const path = await socketIn();
    for (let i = 0; i < 20; i++) {
      const server = await serve(path);
      const c = client(path);
      expect(await c.search(`a${i}`)).toHaveLength(1);
      // Stop and restart with no turn of the event loop for the client in between.
      await server.close();
      servers.delete(server);
      await serve(path);
      expect(await c.search(`b${i}`)).toEqual([result(`b${i}`, 'hybrid:10')]);
      for (const s of servers) await s.close();
      servers.clear();
    }
  });

  it('requests in flight when the connection dies fail with a retryable error', async () => {
    const path = await socketIn();
    const server = await serve(path, { closeGraceMs: 0 });
    const c = client(path);
    await c.connect();
    const pending = rejection(c.search('slow:500'));
    await new Promise((resolve) => setTimeout(resolve, 20));
    await server.close();
    const error = await pending;
    expect(error).toBeInstanceOf(IpcUnavailableError);
    expect(error).toMatchObject({ retryable: true });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > until) throw new Error(`${what}: not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** Promises the test resolves by hand, so that "which request ran before which" is decided by the test. */
function gate(): { opened: Promise<void>; open: () => void } {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}

describe('ipc under slow, idle and flooding clients', () => {
  it('a client that sends only the header of a frame is dropped after the frame timeout', async () => {
    const path = await socketIn();
    const server = await serve(path, { frameTimeoutMs: 100 });
    const r = await raw(path);
    await r.next((f) => f.hello !== undefined);
    // The header whole, the body never: nothing stays buffered, the frame is still pending.
    r.socket.write(Buffer.from([0, 0, 0, 50]));
    await r.closed;
    expect(r.frames.at(-1)).toMatchObject({
      ok: true,
      frame: { id: null, error: { kind: 'timeout', message: 'frame incomplete after 100 ms' } },
    });
    await waitFor(() => server.connectionCount === 0, 3000, 'the header-only connection to be gone');
    await othersStillServed(path);
  });

  it('at the connection limit a new client takes the place of the one idle the longest', async () => {
    const path = await socketIn();
    const limit = 8;
    const server = await serve(path, { maxConnections: limit });
    // Idle hellos, a client that never says hello and one stuck after a frame header: none has work.
    const idle: IpcClient[] = [];
    for (let i = 0; i < limit - 2; i++) {
      const c = client(path);
      await c.connect();
      idle.push(c);
    }
    const silent = await raw(path, false);
    const headerOnly = await raw(path);
    headerOnly.socket.write(Buffer.from([0, 0, 0, 50]));
    await waitFor(() => server.connectionCount === limit, 3000, `${limit} connections open`);
    for (let round = 0; round < limit + 2; round++) {
      const fresh = client(path);
      expect(await fresh.search(`fresh ${round}`)).toEqual([result(`fresh ${round}`, 'hybrid:10')]);
      expect(server.connectionCount).toBeLessThanOrEqual(limit);
    }
    // The oldest went first: the first idle client was closed with a busy error and reconnects.
    expect(idle[0]?.connected).toBe(false);
    await silent.closed;
    await headerOnly.closed;
    expect(await idle[0]?.search('back')).toEqual([result('back', 'hybrid:10')]);
  });

  it('a flooding connection cannot push a well-behaved client back more than one turn per connection', async () => {
    const path = await socketIn();
    const concurrency = 2;
    const floods = 4;
    const pipelined = 64;
    const { opened, open } = gate();
    const serial = new SerialQueue(); // what an index does: one read after the other
    const ran: string[] = [];
    const server = await serve(
      path,
      { maxConcurrentRequests: concurrency },
      {
        ...handlers,
        async search(params) {
          await opened;
          return serial.run(async () => {
            ran.push(params.query);
            await new Promise((resolve) => setImmediate(resolve));
            return [result(params.query, 'x')];
          });
        },
      },
    );
    const flooders: Raw[] = [];
    for (let c = 0; c < floods; c++) {
      const r = await raw(path);
      await r.next((f) => f.hello !== undefined);
      const frames = Array.from({ length: pipelined }, (_, i) =>
        encodeFrame({ id: i, method: 'search', params: { query: `flood ${c}.${i}` } }),
      );
      r.socket.write(Buffer.concat(frames));
      flooders.push(r);
    }
    const inFlight = () => server.requests.queued + server.requests.running;
    await waitFor(() => inFlight() === floods * pipelined, 3000, 'every flood request queued');
    const polite = client(path);
    const answer = polite.search('polite');
    await waitFor(() => inFlight() === floods * pipelined + 1, 3000, 'the polite request queued');
    open();
    expect(await answer).toEqual([result('polite', 'x')]);
    // In queue positions: the requests running when it came, then one of each flooding connection.
    const position = ran.indexOf('polite');
    expect(position, ran.slice(0, 12).join(', ')).toBeGreaterThanOrEqual(0);
    expect(position).toBeLessThanOrEqual(concurrency + floods);
    // The flood itself is still answered in full.
    for (const r of flooders) {
      for (let i = 0; i < pipelined; i++) await r.next((f) => f.id === i && f.ok === true);
    }
  });

  it('a request whose deadline passed never starts if queued, and is told to stop if running', async () => {
    const path = await socketIn();
    let started = 0;
    let stopped = 0;
    const server: IpcServer = await serve(
      path,
      { requestTimeoutMs: 100, maxConcurrentRequests: 2 },
      {
        ...handlers,
        // Work that would go on for ever, unless its signal says nobody waits for it any more. It
        // gives its slot back only once the requests queued behind it (sent at the same moment, so
        // past their deadline too) have been dealt with: those must be dropped, not started.
        search(_params, signal) {
          started++;
          return new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              stopped++;
              void waitFor(() => server.requests.queued === 0, 3000, 'the queue to empty').then(() =>
                reject(new Error('stopped')),
              );
            });
          });
        },
      },
    );
    const r = await raw(path);
    await r.next((f) => f.hello !== undefined);
    const count = 10;
    r.socket.write(
      Buffer.concat(
        Array.from({ length: count }, (_, i) =>
          encodeFrame({ id: i, method: 'search', params: { query: `q${i}` } }),
        ),
      ),
    );
    for (let i = 0; i < count; i++) {
      const reply = await r.next((f) => f.id === i);
      expect(reply).toMatchObject({ ok: false, error: { kind: 'timeout' } });
      expect((reply.error as { message: string }).message).toMatch(/^no answer within 100 ms/);
    }
    await waitFor(
      () => server.requests.queued === 0 && server.requests.running === 0,
      3000,
      'no request left queued or running',
    );
    expect({ started, stopped }).toEqual({ started: 2, stopped: 2 });
    // The slots are free again.
    expect(await client(path).status()).toMatchObject({ files: 3 });
  });

  it('a client that leaves takes its queued requests with it and stops its running ones', async () => {
    const path = await socketIn();
    let started = 0;
    let stopped = 0;
    const server = await serve(
      path,
      { maxConcurrentRequests: 1 },
      {
        ...handlers,
        search(_params, signal) {
          started++;
          return new Promise((_resolve, reject) => {
            signal.addEventListener('abort', () => {
              stopped++;
              reject(new Error('stopped'));
            });
          });
        },
      },
    );
    const r = await raw(path);
    await r.next((f) => f.hello !== undefined);
    const timers = () => process.getActiveResourcesInfo().filter((what) => what === 'Timeout').length;
    const timersBefore = timers();
    r.socket.write(
      Buffer.concat(
        Array.from({ length: 20 }, (_, i) =>
          encodeFrame({ id: i, method: 'search', params: { query: 'q' } }),
        ),
      ),
    );
    await waitFor(() => server.requests.queued === 19, 3000, '19 requests queued behind the first');
    r.socket.destroy();
    await waitFor(
      () => server.requests.queued === 0 && server.requests.running === 0,
      3000,
      'no request left queued or running',
    );
    expect({ started, stopped }).toEqual({ started: 1, stopped: 1 });
    // Their deadline timers went with them: 20 left pending would keep a stopping owner alive 30 s.
    expect(timers()).toBeLessThan(timersBefore + 5);
  });

  it("a handler's unavailable error keeps its reason: an owner not answering is a timeout", async () => {
    const path = await socketIn();
    await serve(
      path,
      {},
      {
        ...handlers,
        async search() {
          throw new IpcUnavailableError('timeout', 'the owner (process 1) is alive but not answering; retry');
        },
      },
    );
    const error = await rejection(client(path).search('x'));
    expect(error).toBeInstanceOf(IpcUnavailableError);
    expect(error).toMatchObject({ reason: 'timeout', retryable: true });
    expect((error as Error).message).toMatch(/alive but not answering; retry$/);
  });
});
