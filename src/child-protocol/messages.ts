import type { ErrorKind } from '../error-kind.js';
import { errorKindOf, rootMessage } from '../errors.js';
import { type LockWaits, noLockWaits, tallyLockWaits } from '../strategies/lock-waits.js';

/**
 * The tester children's command protocol (the owner and reader children speak it; the intruder
 * mimics it): one JSON object per line on stdin (requests) and stdout (replies). stdout carries
 * nothing else; the child's diagnostics go to stderr, which the parent keeps for the trace.
 */

export const PROTOCOL_VERSION = 1;

export interface Request {
  readonly id: number;
  readonly op: string;
  readonly args?: Record<string, unknown>;
}

export type Reply = (
  | { readonly id: number; readonly ok: true; readonly result?: unknown; readonly ms: number }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: string;
      /** Why it failed (error-kind.ts): `protocol` for a bad request, else the error's own kind. */
      readonly kind: ErrorKind;
      readonly ms: number;
    }
) & {
  /** Lock conflicts the strategy retried while answering, and its longest wait; absent when none. */
  readonly waits?: LockWaits;
};

/** First line a protocol child prints once it can take requests. */
export interface Hello {
  /** Which child this is: `embecode-owner` or `embecode-reader`. */
  readonly hello: string;
  readonly protocol: number;
  readonly pid: number;
  readonly strategy: string;
}

/**
 * Runs the work for one request and turns its outcome into a reply; never throws. A failure
 * carries its kind and, where EmbecodeError wraps DuckDB, DuckDB's own words.
 */
export async function answer(request: Request, work: () => Promise<unknown>): Promise<Reply> {
  const started = performance.now();
  const tally = noLockWaits();
  const waited = () => (tally.conflicts > 0 || tally.longestWaitMs > 0 ? { waits: tally } : {});
  try {
    const result = await tallyLockWaits(tally, work);
    return { id: request.id, ok: true, result, ms: performance.now() - started, ...waited() };
  } catch (error) {
    return {
      id: request.id,
      ok: false,
      error: rootMessage(error),
      kind: errorKindOf(error),
      ms: performance.now() - started,
      ...waited(),
    };
  }
}
