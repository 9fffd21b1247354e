import type { SearchMode, SearchOptions, SearchResult } from '../index/types.js';

/**
 * The ipc protocol's messages, and their validation. Every frame is a JSON object.
 *
 * 1. On connect the server sends `{ hello: 'embecode-ipc', version, pid }` and the client sends
 *    `{ hello: 'embecode-ipc', version }`. Each side checks the other's version; on a mismatch the
 *    server answers with an error response (id null) and closes, the client fails its connect.
 * 2. Requests `{ id, method, params? }`, `id` a non-negative safe integer chosen by the client;
 *    several may be in flight on one connection, and responses may come in any order.
 * 3. Responses `{ id, ok: true, result }` or `{ id, ok: false, error: { kind, message } }`. `id` is
 *    null when the server could not read the request's id (a frame that is not JSON, say).
 */

export const IPC_HELLO = 'embecode-ipc';
export const IPC_PROTOCOL_VERSION = 1;

export const IPC_METHODS = ['search', 'status', 'catch-up'] as const;
export type IpcMethod = (typeof IPC_METHODS)[number];

export interface ServerHello {
  readonly hello: typeof IPC_HELLO;
  readonly version: number;
  readonly pid: number;
}

export interface ClientHello {
  readonly hello: typeof IPC_HELLO;
  readonly version: number;
}

export interface SearchParams {
  readonly query: string;
  readonly mode?: SearchMode;
  readonly topK?: number;
  readonly pathPrefix?: string;
}

/** What `status` answers: the serving process and its index; servers may add fields. */
export interface IpcStatus {
  readonly pid: number;
  readonly db: string | null;
  readonly holding: boolean;
  readonly files: number;
  readonly chunks: number;
  readonly [extra: string]: unknown;
}

/**
 * What `catch-up` answers: the owner indexed the project once, starting after the request came,
 * so every change made to the files before the request was sent is in the index when this arrives.
 */
export interface IpcCatchUp {
  /** The owner that caught up. */
  readonly pid: number;
  readonly added: number;
  readonly updated: number;
  readonly deleted: number;
  readonly unchanged: number;
  readonly skipped: number;
  /** Chunks written by this catch-up. */
  readonly chunks: number;
  readonly elapsedMs: number;
  /** What the index holds afterwards. */
  readonly files: number;
  readonly totalChunks: number;
  readonly [extra: string]: unknown;
}

export interface IpcParams {
  readonly search: SearchParams;
  readonly status: Record<string, never>;
  readonly 'catch-up': Record<string, never>;
}

export interface IpcResults {
  readonly search: SearchResult[];
  readonly status: IpcStatus;
  readonly 'catch-up': IpcCatchUp;
}

export interface IpcRequest {
  readonly id: number;
  readonly method: string;
  readonly params?: Record<string, unknown>;
}

/**
 * Error kinds on the wire: the EmbecodeError kinds, DuckDB's classified kinds (`locked`, ...; all in error-kind.ts),
 * and the protocol's own:
 * - `bad-request`: the frame is not a valid request (not JSON, no id, bad params).
 * - `unknown-method`: a well-formed request for a method this server does not have.
 * - `too-large`: the request frame, or the response it would get, is over the frame limit.
 * - `timeout`: the server gave up on the request after its request timeout.
 * - `busy`: too many requests in flight on this connection.
 * - `unavailable`: the server cannot answer now (shutting down, index released): retry later.
 * - `version`: the peer speaks another protocol version.
 */
export type IpcErrorKind = string;

export interface IpcErrorBody {
  readonly kind: IpcErrorKind;
  readonly message: string;
  /**
   * For `unavailable`: why (an IpcUnavailableReason: `timeout` for an owner that is alive but does
   * not answer, `shutting-down`, `no-socket`, ...). Absent from older servers: read as `shutting-down`.
   */
  readonly reason?: string;
}

export type IpcResponse =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number | null; readonly ok: false; readonly error: IpcErrorBody };

/** A message that failed validation; `kind` is what the server answers with. */
export class InvalidMessage extends Error {
  constructor(
    readonly kind: IpcErrorKind,
    message: string,
    /** The request's id when it could be read, so the error reaches its caller. */
    readonly id: number | null = null,
  ) {
    super(message);
    this.name = 'InvalidMessage';
  }
}

export function serverHello(pid = process.pid): ServerHello {
  return { hello: IPC_HELLO, version: IPC_PROTOCOL_VERSION, pid };
}

export function clientHello(): ClientHello {
  return { hello: IPC_HELLO, version: IPC_PROTOCOL_VERSION };
}

/** Checks the server's hello; throws InvalidMessage (`version` or `bad-request`) with a clear reason. */
export function parseServerHello(frame: Record<string, unknown>): ServerHello {
  if (frame.hello !== IPC_HELLO) {
    throw new InvalidMessage('bad-request', `expected an '${IPC_HELLO}' hello, got ${preview(frame)}`);
  }
  if (frame.version !== IPC_PROTOCOL_VERSION) {
    throw new InvalidMessage(
      'version',
      `server speaks ipc protocol version ${String(frame.version)}, this client speaks ${IPC_PROTOCOL_VERSION}; run the same embecode version on both sides`,
    );
  }
  if (!isSafeId(frame.pid) || frame.pid === 0) {
    throw new InvalidMessage('bad-request', `server hello has no valid pid: ${preview(frame)}`);
  }
  return { hello: IPC_HELLO, version: IPC_PROTOCOL_VERSION, pid: frame.pid };
}

/** Checks a client's hello (its first frame). */
export function parseClientHello(frame: Record<string, unknown>): ClientHello {
  if (frame.hello !== IPC_HELLO) {
    throw new InvalidMessage(
      'bad-request',
      `the first frame must be an '${IPC_HELLO}' hello with a version, got ${preview(frame)}`,
    );
  }
  if (frame.version !== IPC_PROTOCOL_VERSION) {
    throw new InvalidMessage(
      'version',
      `client speaks ipc protocol version ${String(frame.version)}, this server speaks ${IPC_PROTOCOL_VERSION}; run the same embecode version on both sides`,
    );
  }
  return { hello: IPC_HELLO, version: IPC_PROTOCOL_VERSION };
}

/** Checks a request's shape (not its method or params). */
export function parseRequest(frame: Record<string, unknown>): IpcRequest {
  const id = isSafeId(frame.id) ? frame.id : null;
  if (id === null) {
    throw new InvalidMessage('bad-request', 'request needs an "id": a non-negative integer');
  }
  if (typeof frame.method !== 'string' || frame.method.length === 0) {
    throw new InvalidMessage('bad-request', 'request needs a "method" string', id);
  }
  const params = frame.params;
  if (params !== undefined && (typeof params !== 'object' || params === null || Array.isArray(params))) {
    throw new InvalidMessage('bad-request', '"params" must be an object when present', id);
  }
  return {
    id,
    method: frame.method,
    ...(params === undefined ? {} : { params: params as Record<string, unknown> }),
  };
}

export function isIpcMethod(method: string): method is IpcMethod {
  return (IPC_METHODS as readonly string[]).includes(method);
}

const MODES: readonly SearchMode[] = ['vector', 'bm25', 'hybrid'];
export const MAX_QUERY_CHARS = 10_000;
export const MAX_TOP_K = 1000;

/** Validates `search` params; throws InvalidMessage (`bad-request`) naming the bad field. */
export function parseSearchParams(params: Record<string, unknown> | undefined, id: number): SearchParams {
  const p = params ?? {};
  if (typeof p.query !== 'string')
    throw new InvalidMessage('bad-request', 'search needs a "query" string', id);
  if (p.query.length > MAX_QUERY_CHARS) {
    throw new InvalidMessage('bad-request', `search "query" is over ${MAX_QUERY_CHARS} characters`, id);
  }
  if (p.mode !== undefined && !MODES.includes(p.mode as SearchMode)) {
    throw new InvalidMessage('bad-request', `search "mode" is one of ${MODES.join(', ')}`, id);
  }
  if (
    p.topK !== undefined &&
    (!Number.isInteger(p.topK) || (p.topK as number) < 0 || (p.topK as number) > MAX_TOP_K)
  ) {
    throw new InvalidMessage('bad-request', `search "topK" is an integer from 0 to ${MAX_TOP_K}`, id);
  }
  if (p.pathPrefix !== undefined && typeof p.pathPrefix !== 'string') {
    throw new InvalidMessage('bad-request', 'search "pathPrefix" must be a string', id);
  }
  return {
    query: p.query,
    ...(p.mode === undefined ? {} : { mode: p.mode as SearchMode }),
    ...(p.topK === undefined ? {} : { topK: p.topK as number }),
    ...(p.pathPrefix === undefined ? {} : { pathPrefix: p.pathPrefix as string }),
  };
}

export function searchParams(query: string, options: SearchOptions): SearchParams {
  return {
    query,
    ...(options.mode === undefined ? {} : { mode: options.mode }),
    ...(options.topK === undefined ? {} : { topK: options.topK }),
    ...(options.pathPrefix === undefined ? {} : { pathPrefix: options.pathPrefix }),
  };
}

export function searchOptions(params: SearchParams): SearchOptions {
  return {
    ...(params.mode === undefined ? {} : { mode: params.mode }),
    ...(params.topK === undefined ? {} : { topK: params.topK }),
    ...(params.pathPrefix === undefined ? {} : { pathPrefix: params.pathPrefix }),
  };
}

/** Checks a response frame; throws InvalidMessage (`bad-request`) when it is not one. */
export function parseResponse(frame: Record<string, unknown>): IpcResponse {
  const id = frame.id === null ? null : isSafeId(frame.id) ? frame.id : undefined;
  if (id === undefined)
    throw new InvalidMessage('bad-request', `response has no valid id: ${preview(frame)}`);
  if (frame.ok === true) {
    if (id === null) throw new InvalidMessage('bad-request', 'a successful response needs an id');
    return { id, ok: true, result: frame.result };
  }
  if (frame.ok === false) {
    const error = frame.error as Record<string, unknown> | null | undefined;
    if (
      typeof error !== 'object' ||
      error === null ||
      typeof error.kind !== 'string' ||
      typeof error.message !== 'string'
    ) {
      throw new InvalidMessage(
        'bad-request',
        `error response needs error.kind and error.message: ${preview(frame)}`,
      );
    }
    const reason = typeof error.reason === 'string' ? { reason: error.reason.slice(0, 40) } : {};
    return { id, ok: false, error: { kind: error.kind, message: error.message, ...reason } };
  }
  throw new InvalidMessage('bad-request', `response needs "ok": true or false: ${preview(frame)}`);
}

/** Checks a `search` result: a list of SearchResult. */
export function parseSearchResult(result: unknown): SearchResult[] {
  if (!Array.isArray(result)) throw new InvalidMessage('bad-request', 'search result must be a list');
  for (const r of result) {
    const ok =
      typeof r === 'object' &&
      r !== null &&
      typeof r.path === 'string' &&
      Number.isInteger(r.startLine) &&
      Number.isInteger(r.endLine) &&
      typeof r.score === 'number' &&
      typeof r.preview === 'string';
    if (!ok) throw new InvalidMessage('bad-request', `search result entry is malformed: ${preview(r)}`);
  }
  return result as SearchResult[];
}

/** Checks a `status` result. */
export function parseStatus(result: unknown): IpcStatus {
  const r = result as Record<string, unknown> | null;
  if (
    typeof r !== 'object' ||
    r === null ||
    !isSafeId(r.pid) ||
    !(typeof r.db === 'string' || r.db === null) ||
    typeof r.holding !== 'boolean' ||
    typeof r.files !== 'number' ||
    typeof r.chunks !== 'number'
  ) {
    throw new InvalidMessage('bad-request', `status result is malformed: ${preview(result)}`);
  }
  return r as IpcStatus;
}

/** Checks a `catch-up` result. */
export function parseCatchUp(result: unknown): IpcCatchUp {
  const r = result as Record<string, unknown> | null;
  const counts = [
    'added',
    'updated',
    'deleted',
    'unchanged',
    'skipped',
    'chunks',
    'elapsedMs',
    'files',
    'totalChunks',
  ];
  if (
    typeof r !== 'object' ||
    r === null ||
    !isSafeId(r.pid) ||
    counts.some((k) => typeof r[k] !== 'number')
  ) {
    throw new InvalidMessage('bad-request', `catch-up result is malformed: ${preview(result)}`);
  }
  return r as IpcCatchUp;
}

function isSafeId(value: unknown): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function preview(value: unknown): string {
  let text: string;
  try {
    text = JSON.stringify(value) ?? String(value);
  } catch {
    text = String(value);
  }
  return text.length > 100 ? `${text.slice(0, 99)}…` : text;
}
