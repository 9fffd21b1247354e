import { errorKindOf, rootMessage } from '../errors.js';

/**
 * The owner child's command protocol: one JSON object per line on stdin (requests) and stdout
 * (replies). stdout carries nothing else; the child's diagnostics go to stderr, which the parent
 * keeps for the trace.
 */

export const OWNER_PROTOCOL_VERSION = 1;

/**
 * The owner child's operations. `open` opens (or re-opens) the index at `args.db` as owner, closing
 * any index open before; `release` closes every connection and the instance, so the OS lock is
 * free when the reply arrives; `acquire` re-opens the last index after a release.
 */
export const OWNER_OPS = [
  'open',
  'write',
  'delete',
  'checkpoint',
  'release',
  'acquire',
  'status',
  'shutdown',
] as const;

export type OwnerOp = (typeof OWNER_OPS)[number];

export interface OwnerRequest {
  readonly id: number;
  readonly op: OwnerOp;
  readonly args?: Record<string, unknown>;
}

export type OwnerReply =
  | { readonly id: number; readonly ok: true; readonly result?: unknown; readonly ms: number }
  | {
      readonly id: number;
      readonly ok: false;
      readonly error: string;
      /** DuckDB error kind (see duckdb-errors.ts) or `protocol` for a bad request. */
      readonly kind: string;
      readonly ms: number;
    };

/** First line a protocol child prints once it can take requests. */
export interface OwnerHello {
  /** Which child this is: `embecode-owner` or `embecode-reader`. */
  readonly hello: string;
  readonly protocol: number;
  readonly pid: number;
  readonly strategy: string;
}

export interface WriteArgs {
  readonly path: string;
  readonly content: string;
}

export interface OwnerStatus {
  readonly pid: number;
  readonly holding: boolean;
  readonly db: string | null;
  readonly files: number;
  readonly chunks: number;
}

/**
 * Runs the work for one request and turns its outcome into a reply; never throws. A failure
 * carries its kind and, where EmbecodeError wraps DuckDB, DuckDB's own words.
 */
export async function answer(request: OwnerRequest, work: () => Promise<unknown>): Promise<OwnerReply> {
  const started = performance.now();
  try {
    const result = await work();
    return { id: request.id, ok: true, result, ms: performance.now() - started };
  } catch (error) {
    return {
      id: request.id,
      ok: false,
      error: rootMessage(error),
      kind: errorKindOf(error),
      ms: performance.now() - started,
    };
  }
}
