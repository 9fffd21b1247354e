import { createHash } from 'node:crypto';
import { type ChunkerOptions, chunkFile } from './chunker.js';
import type { Embedder } from './embedder.js';
import { tokenize } from './tokenizer.js';
import type { PreparedChunk, PreparedFile } from './types.js';

export function contentHash(content: string): string {
  return createHash('sha256').update(content).digest('hex');
}

/**
 * Chunks, embeds and counts terms for one file, all outside any transaction, so the owner's write
 * lock is held only for the inserts.
 */
export async function prepareFile(
  path: string,
  content: string,
  embedder: Embedder,
  chunker?: ChunkerOptions,
): Promise<PreparedFile> {
  const chunks = chunkFile(path, content, chunker);
  const counted = chunks.map((chunk) => {
    const tokens = tokenize(chunk.content);
    const terms = new Map<string, number>();
    for (const term of tokens) terms.set(term, (terms.get(term) ?? 0) + 1);
    return { terms, length: tokens.length };
  });
  // Tokenizing is the costliest step: an embedder that can reuse the counts is not made to redo it.
  const fromCounts = embedder.embedTermFrequencies?.bind(embedder);
  const embeddings =
    fromCounts === undefined
      ? await embedder.embed(chunks.map((c) => c.content))
      : counted.map((c) => fromCounts(c.terms));
  const prepared: PreparedChunk[] = chunks.map((chunk, i) => ({
    ...chunk,
    embedding: embeddings[i] as Float32Array,
    terms: counted[i]?.terms ?? new Map(),
    length: counted[i]?.length ?? 0,
  }));
  return { path, hash: contentHash(content), size: Buffer.byteLength(content), chunks: prepared };
}
