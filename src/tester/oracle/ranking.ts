/**
 * The order every ranking of the index is specified to follow, shared by the reference's lists and
 * the comparison's tie analysis.
 *
 * A ranked chunk is ordered by its score rounded to a fixed number of decimals (descending), then by
 * path (ascending, by UTF-8 bytes as DuckDB orders VARCHARs, never `localeCompare`, whose order depends
 * on the locale), then by first line (ascending). Rounding is there so that two chunks whose exact
 * scores differ only by floating-point noise (the same sum taken in another order) are ordered by
 * name, identically in every process; the score reported stays unrounded.
 */

/** Which of the index's rankings a list comes from. */
export type RankedMode = 'bm25' | 'vector' | 'hybrid';

/** A chunk as a ranking lists it. */
export interface RankedChunk {
  readonly path: string;
  /** 1-based, inclusive. */
  readonly startLine: number;
  /** 1-based, inclusive. */
  readonly endLine: number;
  readonly score: number;
}

/**
 * Decimals each ranking rounds its scores to before ordering: BM25 sums doubles, vector scores are
 * FLOATs; a hybrid score is returned rounded.
 */
export const RANK_DECIMALS: Readonly<Record<RankedMode, number>> = { bm25: 9, vector: 6, hybrid: 6 };

/**
 * `score` scaled by `10 ** decimals` and rounded half away from zero, as SQL's `round(x, d)` does
 * (JavaScript's `Math.round` rounds -2.5 to -2). Kept scaled: two scores round alike exactly when
 * their keys are equal, and no division adds noise of its own.
 */
export function roundedKey(score: number, decimals: number): number {
  const scaled = score * 10 ** decimals;
  return scaled < 0 ? -Math.round(-scaled) : Math.round(scaled);
}

/** Binary order of two strings by their UTF-8 bytes (which is code point order). */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** Path, then first line: the tie-break of every ranking once the scores say nothing. */
export function compareLocation(
  a: Pick<RankedChunk, 'path' | 'startLine'>,
  b: Pick<RankedChunk, 'path' | 'startLine'>,
): number {
  return compareUtf8(a.path, b.path) || a.startLine - b.startLine;
}

/** The comparator of a `mode` ranking: best first. */
export function rankingOrder(mode: RankedMode): (a: RankedChunk, b: RankedChunk) => number {
  const decimals = RANK_DECIMALS[mode];
  return (a, b) => roundedKey(b.score, decimals) - roundedKey(a.score, decimals) || compareLocation(a, b);
}

/** Identity of a chunk in one state: no two chunks of a file start on the same line. */
export function chunkKey(chunk: Pick<RankedChunk, 'path' | 'startLine' | 'endLine'>): string {
  return `${chunk.path}\u0000${chunk.startLine}\u0000${chunk.endLine}`;
}

/** How a chunk is shown to a person: `path:start-end`. */
export function chunkLabel(chunk: Pick<RankedChunk, 'path' | 'startLine' | 'endLine'>): string {
  return `${chunk.path}:${chunk.startLine}-${chunk.endLine}`;
}
