/** One piece of a source file, the unit that is embedded and searched. */
export interface Chunk {
  /** Project-relative path with forward slashes. */
  readonly path: string;
  /** 1-based, inclusive. */
  readonly startLine: number;
  /** 1-based, inclusive. */
  readonly endLine: number;
  readonly content: string;
}

/** Everything the index stores for one file, computed before the write transaction starts. */
export interface PreparedFile {
  readonly path: string;
  /** Content hash, used by catch-up indexing to skip unchanged files. */
  readonly hash: string;
  readonly size: number;
  readonly chunks: readonly PreparedChunk[];
}

export interface PreparedChunk extends Chunk {
  readonly embedding: Float32Array;
  /** BM25 term frequencies of this chunk. */
  readonly terms: ReadonlyMap<string, number>;
  /** Number of terms in the chunk (BM25 document length). */
  readonly length: number;
}

export type SearchMode = 'vector' | 'bm25' | 'hybrid';

export interface SearchOptions {
  readonly mode?: SearchMode;
  readonly topK?: number;
  /** Only files whose path starts with this prefix. */
  readonly pathPrefix?: string;
}

export interface SearchResult {
  readonly path: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly score: number;
  /** The first lines of the chunk, trimmed. */
  readonly preview: string;
}

export interface IndexStats {
  readonly files: number;
  readonly chunks: number;
  readonly postings: number;
  readonly dimensions: number;
  readonly embedder: string;
}
