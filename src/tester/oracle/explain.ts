import { chunkKey, type RankedChunk } from './ranking.js';
import type { ReferenceSearch } from './reference-index.js';

/**
 * Why the reference has no place for `hit` among its candidates, in words: the most basic reason
 * first (no such file, then no such chunk, then the filters), since that is the likeliest bug.
 */
export function whyNotCandidate(hit: RankedChunk, search: ReferenceSearch): string {
  if (search.terms.length === 0) return 'the query has no searchable terms, so nothing matches';
  if (search.topK <= 0) return `topK is ${search.topK}, so nothing is returned`;
  const file = search.index.file(hit.path);
  if (file === undefined) return `the index has no file ${hit.path} (deleted, or never written)`;
  const chunk = search.index.chunkAt(hit.path, hit.startLine);
  if (chunk === undefined) {
    const ranges = file.chunks.map((c) => `${c.startLine}-${c.endLine}`).join(', ');
    return `${hit.path} has no chunk starting at line ${hit.startLine} (its chunks: ${ranges || 'none'})`;
  }
  if (chunk.endLine !== hit.endLine) {
    return `${hit.path}'s chunk at line ${hit.startLine} ends at line ${chunk.endLine}, not ${hit.endLine}`;
  }
  if (search.pathPrefix !== null && !hit.path.startsWith(search.pathPrefix)) {
    return `${hit.path} is outside the path prefix ${JSON.stringify(search.pathPrefix)}`;
  }
  if (!search.known) return `none of the query's terms (${search.terms.join(', ')}) is in the index`;
  if (search.mode !== 'hybrid') {
    return search.mode === 'bm25'
      ? `it contains none of the query's terms (${search.terms.join(', ')})`
      : 'the query vector is zero, so vector search finds nothing';
  }
  const key = chunkKey(hit);
  const rankIn = (ranking: readonly RankedChunk[]) => ranking.findIndex((c) => chunkKey(c) === key);
  const lexical = rankIn(search.bm25);
  const semantic = rankIn(search.vector);
  const where = (name: string, rank: number) => (rank < 0 ? `not in ${name}` : `${name} rank ${rank + 1}`);
  return `it is ${where('bm25', lexical)} and ${where('vector', semantic)}, below the hybrid pool of ${search.depth} each`;
}
