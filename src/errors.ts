import type { ErrorKind } from './error-kind.js';
import { classifyDuckDBError, messageOf } from './index/duckdb-errors.js';

/**
 * Errors a person sees. Each says what went wrong, on which file or process, and what to do next,
 * in one line. `kind` lets the CLIs pick exit codes without parsing messages.
 */
/** The kinds an EmbecodeError can have: the shared vocabulary less DuckDB's own classes. */
export type EmbecodeErrorKind = Exclude<ErrorKind, 'unavailable' | 'constraint' | 'catalog' | 'other'>;

export class EmbecodeError extends Error {
  readonly kind: EmbecodeErrorKind;

  constructor(kind: EmbecodeErrorKind, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'EmbecodeError';
    this.kind = kind;
  }
}

export function usageError(message: string): EmbecodeError {
  return new EmbecodeError('usage', message);
}

/**
 * The kind a step's error is recorded under: an EmbecodeError's kind, a `kind` carried across a
 * process boundary, or DuckDB's message class. All three speak error-kind.ts, so nothing here
 * translates one name into another.
 */
export function errorKindOf(error: unknown): ErrorKind {
  // "Nobody can answer right now, try again" (an owner that is going or gone) crosses process
  // boundaries as its own kind, so a caller far away can still tell it from a real failure.
  if ((error as { retryable?: unknown } | null)?.retryable === true) return 'unavailable';
  if (error instanceof EmbecodeError) return error.kind;
  const carried = (error as { kind?: unknown } | null)?.kind;
  if (typeof carried === 'string') return carried as ErrorKind;
  return classifyDuckDBError(error).kind;
}

/** The words a trace should show: DuckDB's own text where an EmbecodeError wraps it. */
export function rootMessage(error: unknown): string {
  return error instanceof EmbecodeError && error.cause !== undefined
    ? messageOf(error.cause)
    : messageOf(error);
}

/** An error reported by another process, with the kind it was classified under there. */
export class RemoteError extends Error {
  constructor(
    message: string,
    readonly kind: string,
  ) {
    super(message);
    this.name = 'RemoteError';
  }
}
