import type { PreparedChunk } from '../../index/types.js';
import type { RankedChunk } from './ranking.js';

/** Whether a query vector carries no signal: the index answers such a vector search with nothing. */
export function isZeroVector(vector: Float32Array): boolean {
  return vector.every((x) => x === 0);
}

/**
 * The inner product of `query` with every chunk's stored vector, for every chunk under
 * `pathPrefix` (a chunk whose vector is zero scores 0 and is still a candidate), unordered.
 * Stored vectors have norm 1 or 0, so this is the cosine similarity. Summed in doubles: the index
 * sums in FLOATs, a difference the comparison's tolerance absorbs.
 */
export function vectorScores(
  chunks: readonly PreparedChunk[],
  query: Float32Array,
  pathPrefix: string | null,
): RankedChunk[] {
  const scored: RankedChunk[] = [];
  for (const chunk of chunks) {
    if (pathPrefix !== null && !chunk.path.startsWith(pathPrefix)) continue;
    let score = 0;
    for (let d = 0; d < query.length; d++) score += (query[d] as number) * (chunk.embedding[d] ?? 0);
    scored.push({ path: chunk.path, startLine: chunk.startLine, endLine: chunk.endLine, score });
  }
  return scored;
}
