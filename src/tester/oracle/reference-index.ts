import type { Embedder } from '../../index/embedder.js';
import { tokenize } from '../../index/tokenizer.js';
import type { PreparedChunk, PreparedFile, SearchMode } from '../../index/types.js';
import { bm25Scores } from './bm25.js';
import { definesAny, queriedNames, stablePartition } from './definitions.js';
import { type FusedChunk, fuseRankings } from './fusion.js';
import { chunkKey, compareLocation, type RankedChunk, rankingOrder } from './ranking.js';
import { isZeroVector, vectorScores } from './vector.js';

/** Results a search returns when the caller does not say. */
export const REFERENCE_DEFAULT_TOP_K = 10;
/** Hybrid search fuses this many of each ranking at least (`max(topK * 5, this)`). */
export const FUSION_MIN_DEPTH = 50;
/** Hybrid search looks for definitions among this many fused results at least (`max(topK * 2, this)`). */
export const DEFINITION_MIN_LOOKAHEAD = 10;

/** The options of `Searcher.search`, with the same defaults. */
export interface ReferenceSearchOptions {
  /** Default `hybrid`. */
  readonly mode?: SearchMode;
  /** Default REFERENCE_DEFAULT_TOP_K; zero or less finds nothing. */
  readonly topK?: number;
  /** Only chunks whose path starts with it (`''` keeps all); default none. */
  readonly pathPrefix?: string;
}

/** What every reference answer records of the question and the state it answers. */
interface ReferenceSearchBase {
  readonly query: string;
  /** The query's distinct terms; none means the search finds nothing whatever the state. */
  readonly terms: readonly string[];
  readonly topK: number;
  readonly pathPrefix: string | null;
  /** Exactly what the index must return under the tie rules of ranking.ts, best first. */
  readonly expected: readonly RankedChunk[];
  /** The state searched, for explaining a result the reference lacks. */
  readonly index: ReferenceIndex;
}

/** A BM25 or vector answer. */
export interface ReferenceRankedSearch extends ReferenceSearchBase {
  readonly mode: 'bm25' | 'vector';
  /**
   * Every candidate in ranking order, uncut (`expected` is its first topK): the comparison needs
   * the chunks just past the cut to tell a near tie from a wrong result.
   */
  readonly ranking: readonly RankedChunk[];
}

/** A hybrid answer, with the rankings it fused. */
export interface ReferenceHybridSearch extends ReferenceSearchBase {
  readonly mode: 'hybrid';
  /** How much of each ranking was fused: `max(topK * 5, FUSION_MIN_DEPTH)`. */
  readonly depth: number;
  /** How many fused results were re-read for definitions: `max(topK * 2, DEFINITION_MIN_LOOKAHEAD)`. */
  readonly lookahead: number;
  /** The whole BM25 ranking, uncut; the first `depth` were fused. */
  readonly bm25: readonly RankedChunk[];
  /** The whole vector ranking, uncut (empty for a zero query vector); the first `depth` were fused. */
  readonly vector: readonly RankedChunk[];
  /** The fusion of the two cut rankings, uncut, before definitions go first. */
  readonly fused: readonly FusedChunk[];
  /** chunkKey of every candidate that defines an identifier the query names. */
  readonly defining: ReadonlySet<string>;
}

export type ReferenceSearch = ReferenceRankedSearch | ReferenceHybridSearch;

/**
 * What `Searcher.search` must answer for a set of files, computed in plain TypeScript from the
 * prepared files alone: no database, no SQL, nothing of search.ts.
 *
 * Instances never change. `withFile` and `without` return a new instance sharing the prepared
 * files (one map copy, O(files)), so a checker can hold one state per prefix of a run's writes.
 */
export class ReferenceIndex {
  private sortedChunks: readonly PreparedChunk[] | undefined;

  private constructor(
    private readonly files: ReadonlyMap<string, PreparedFile>,
    /** Embeds queries; must be the embedder that prepared the files. */
    readonly embedder: Embedder,
  ) {}

  /** A state with no files. */
  static empty(embedder: Embedder): ReferenceIndex {
    return new ReferenceIndex(new Map(), embedder);
  }

  /** This state with `file` written: its chunks replace whatever its path had. */
  withFile(file: PreparedFile): ReferenceIndex {
    const stray = file.chunks.find((c) => c.path !== file.path);
    if (stray !== undefined) {
      throw new RangeError(`chunk ${stray.path}:${stray.startLine} is filed under ${file.path}`);
    }
    return new ReferenceIndex(new Map(this.files).set(file.path, file), this.embedder);
  }

  /** This state with `path` deleted; the same instance when there is no such file. */
  without(path: string): ReferenceIndex {
    if (!this.files.has(path)) return this;
    const files = new Map(this.files);
    files.delete(path);
    return new ReferenceIndex(files, this.embedder);
  }

  /** Paths of the files, in code-unit order. */
  get paths(): string[] {
    return [...this.files.keys()].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  file(path: string): PreparedFile | undefined {
    return this.files.get(path);
  }

  /** Every chunk, by path and first line. */
  get chunks(): readonly PreparedChunk[] {
    this.sortedChunks ??= [...this.files.values()].flatMap((f) => f.chunks).sort(compareLocation);
    return this.sortedChunks;
  }

  /** The chunk of `path` that starts at `startLine`, if any. */
  chunkAt(path: string, startLine: number): PreparedChunk | undefined {
    return this.files.get(path)?.chunks.find((c) => c.startLine === startLine);
  }

  /** What `new Searcher(db, embedder).search(query, options)` must return for this state. */
  async search(query: string, options: ReferenceSearchOptions = {}): Promise<ReferenceSearch> {
    const mode = options.mode ?? 'hybrid';
    const topK = options.topK ?? REFERENCE_DEFAULT_TOP_K;
    const pathPrefix = options.pathPrefix ?? null;
    const terms = [...new Set(tokenize(query))];
    const base = { query, terms, topK, pathPrefix, index: this };
    const answers = terms.length > 0 && topK > 0;
    const rank = async (which: 'bm25' | 'vector') =>
      answers ? (await this.scores(which, query, terms, pathPrefix)).sort(rankingOrder(which)) : [];
    if (mode !== 'hybrid') {
      const ranking = await rank(mode);
      return { ...base, mode, ranking, expected: ranking.slice(0, Math.max(topK, 0)) };
    }
    const depth = Math.max(topK * 5, FUSION_MIN_DEPTH);
    const lookahead = Math.max(topK * 2, DEFINITION_MIN_LOOKAHEAD);
    const bm25 = await rank('bm25');
    const vector = await rank('vector');
    const fused = answers ? fuseRankings([bm25.slice(0, depth), vector.slice(0, depth)]) : [];
    const wanted = queriedNames(query);
    const defining = new Set<string>();
    for (const candidate of [...bm25, ...vector]) {
      const chunk = this.chunkAt(candidate.path, candidate.startLine);
      if (chunk !== undefined && definesAny(chunk.content, wanted)) defining.add(chunkKey(candidate));
    }
    const head = stablePartition(fused.slice(0, lookahead), (c) => defining.has(chunkKey(c)));
    const expected = answers
      ? head
          .slice(0, topK)
          .map(({ path, startLine, endLine, score }) => ({ path, startLine, endLine, score }))
      : [];
    return { ...base, mode, depth, lookahead, bm25, vector, fused, defining, expected };
  }

  private async scores(
    which: 'bm25' | 'vector',
    query: string,
    terms: readonly string[],
    pathPrefix: string | null,
  ): Promise<RankedChunk[]> {
    if (which === 'bm25') return bm25Scores(this.chunks, terms, pathPrefix);
    const [embedding] = await this.embedder.embed([query]);
    if (embedding === undefined || isZeroVector(embedding)) return [];
    return vectorScores(this.chunks, embedding, pathPrefix);
  }
}
