import type { PreparedChunk } from '../../index/types.js';
import type { RankedChunk } from './ranking.js';

/** Okapi BM25's term-frequency saturation. */
export const BM25_K1 = 1.2;
/** Okapi BM25's document-length normalisation. */
export const BM25_B = 0.75;

/**
 * Inverse document frequency in its "plus one" form, which never goes negative: a term in more than
 * half the chunks still counts a little instead of counting against a chunk.
 */
export function idf(chunkCount: number, documentFrequency: number): number {
  return Math.log((chunkCount - documentFrequency + 0.5) / (documentFrequency + 0.5) + 1);
}

/** One term's contribution to one chunk's score. */
export function termScore(idfValue: number, tf: number, length: number, averageLength: number): number {
  return (idfValue * tf * (BM25_K1 + 1)) / (tf + BM25_K1 * (1 - BM25_B + (BM25_B * length) / averageLength));
}

/**
 * The BM25 score of every chunk under `pathPrefix` that has at least one of `terms`, unordered.
 *
 * The corpus statistics (chunk count, average length, each term's document frequency) are taken
 * over every chunk of the index, not only those under the prefix: the index computes them before it
 * filters by path, so a prefix selects among the scores of the whole index and never changes one.
 * An empty index has average length 1 (the index's `coalesce(avg(length), 1)`); it scores nothing
 * anyway. `terms` must be distinct, as a query's are after deduplication.
 */
export function bm25Scores(
  chunks: readonly PreparedChunk[],
  terms: readonly string[],
  pathPrefix: string | null,
): RankedChunk[] {
  const chunkCount = chunks.length;
  let totalLength = 0;
  for (const chunk of chunks) totalLength += chunk.length;
  const averageLength = chunkCount === 0 ? 1 : totalLength / chunkCount;
  const idfs = terms.map((term) => {
    let df = 0;
    for (const chunk of chunks) if (chunk.terms.has(term)) df++;
    return idf(chunkCount, df);
  });
  const scored: RankedChunk[] = [];
  for (const chunk of chunks) {
    if (pathPrefix !== null && !chunk.path.startsWith(pathPrefix)) continue;
    let score = 0;
    let matched = false;
    terms.forEach((term, i) => {
      const tf = chunk.terms.get(term);
      if (tf === undefined || tf === 0) return;
      matched = true;
      score += termScore(idfs[i] as number, tf, chunk.length, averageLength);
    });
    if (matched) scored.push({ path: chunk.path, startLine: chunk.startLine, endLine: chunk.endLine, score });
  }
  return scored;
}
