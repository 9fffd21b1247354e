import type { SearchMode } from '../../index/types.js';

/** How far an index's score may stray from the reference's and still count as the same. */
export interface Tolerance {
  /** `relative`: a fraction of the larger magnitude; `absolute`: a plain difference. */
  readonly kind: 'relative' | 'absolute';
  readonly amount: number;
}

/**
 * Per mode: BM25 sums doubles in another order than the reference (relative 1e-6 leaves room for
 * DECIMAL constants too); vector scores are FLOATs summed in FLOATs (about 1e-7 apart from the
 * reference's doubles, hence 1e-5); a hybrid score mixes both, scaled by each ranking's best and
 * rounded to 6 decimals, so it may be a rounding unit (1e-6) off plus the vector noise.
 */
export const TOLERANCE: Readonly<Record<SearchMode, Tolerance>> = {
  bm25: { kind: 'relative', amount: 1e-6 },
  vector: { kind: 'absolute', amount: 1e-5 },
  hybrid: { kind: 'absolute', amount: 1e-5 },
};

/** Whether `a` and `b` are the same score under `tolerance`. */
export function withinTolerance(a: number, b: number, tolerance: Tolerance): boolean {
  const difference = Math.abs(a - b);
  if (tolerance.kind === 'absolute') return difference <= tolerance.amount;
  return difference <= tolerance.amount * Math.max(Math.abs(a), Math.abs(b));
}

/** The tolerance in words, for a reason line. */
export function describeTolerance(tolerance: Tolerance): string {
  return `${tolerance.kind} tolerance ${tolerance.amount}`;
}
