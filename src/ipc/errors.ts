import { EmbecodeError, type EmbecodeErrorKind } from '../errors.js';

/**
 * Why an ipc peer cannot be reached right now:
 * - `no-socket`: nothing at the socket path (no owner, or it is not ready yet).
 * - `refused`: a socket file nobody listens on (the owner died and left it).
 * - `closed`: the connection ended before the answer came (the owner stopped or died).
 * - `timeout`: no connection, hello or answer within the time allowed.
 * - `busy`: the server is at its connection or in-flight limit.
 * - `shutting-down`: the server is closing (the owner releases the index).
 */
export type IpcUnavailableReason = 'no-socket' | 'refused' | 'closed' | 'timeout' | 'busy' | 'shutting-down';

const REASONS: ReadonlySet<string> = new Set<IpcUnavailableReason>([
  'no-socket',
  'refused',
  'closed',
  'timeout',
  'busy',
  'shutting-down',
]);

export function isIpcUnavailableReason(value: unknown): value is IpcUnavailableReason {
  return typeof value === 'string' && REASONS.has(value);
}

/** A duration for people: `250 ms`, `1.5 s`, `10 s` (never `9999.998006 ms`). */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return `${ms} ms`;
  if (ms < 1_000) return `${Math.round(ms)} ms`;
  const seconds = ms / 1_000;
  if (seconds < 10) return `${Number(seconds.toFixed(1))} s`;
  return `${Math.round(seconds)} s`;
}

/**
 * The owner cannot answer now; trying again later (or after owner election) may succeed. Its kind
 * is `io` because src/errors.ts has no `unavailable` kind; `retryable` is what callers test.
 */
export class IpcUnavailableError extends EmbecodeError {
  readonly retryable = true;

  constructor(
    readonly reason: IpcUnavailableReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super('io', message, options);
    this.name = 'IpcUnavailableError';
  }
}

const EMBECODE_KINDS: ReadonlySet<string> = new Set<EmbecodeErrorKind>([
  'usage',
  'locked',
  'corrupt',
  'missing',
  'io',
  'protocol',
  'internal',
]);

/**
 * The server answered a request with an error. `remoteKind` is the wire kind (`unknown-method`,
 * `locked`, ...); `kind` is the nearest EmbecodeError kind.
 */
export class IpcRemoteError extends EmbecodeError {
  readonly retryable = false;

  constructor(
    readonly remoteKind: string,
    message: string,
  ) {
    super(remoteKindToKind(remoteKind), message);
    this.name = 'IpcRemoteError';
  }
}

function remoteKindToKind(remote: string): EmbecodeErrorKind {
  if (EMBECODE_KINDS.has(remote)) return remote as EmbecodeErrorKind;
  if (
    remote === 'bad-request' ||
    remote === 'unknown-method' ||
    remote === 'too-large' ||
    remote === 'version'
  ) {
    return 'protocol';
  }
  if (remote === 'corrupt' || remote === 'missing' || remote === 'io') return remote;
  return 'internal';
}

/** True for errors a caller may retry: the owner may come back (or be replaced by election). */
export function isRetryableIpcError(error: unknown): boolean {
  return error instanceof IpcUnavailableError;
}
