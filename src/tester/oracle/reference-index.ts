import type { Embedder } from '../../index/embedder.js';
import { tokenize } from '../../index/tokenizer.js';
import type { PreparedChunk, PreparedFile, SearchMode } from '../../index/types.js';
import { bm25Scores } from './bm25.js';
import { definitionBonusOf, queriedNames } from './definitions.js';
import {
  DEFINITION_HEAD,
  DEFINITION_STRONG,
  DEFINITION_WEAK,
  type FusedChunk,
  fuseScores,
  HYBRID_POOL,
  roundHybrid,
} from './fusion.js';
import { chunkKey, compareLocation, type RankedChunk, rankingOrder } from './ranking.js';
import { isZeroVector, vectorScores } from './vector.js';

/** Results a search returns when the caller does not say. */
export const REFERENCE_DEFAULT_TOP_K = 10;

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
  /** Whether some chunk of the index has one of the terms: if none has, every mode finds nothing. */
  readonly known: boolean;
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
  /** How much of each ranking was fused: HYBRID_POOL. */
  readonly depth: number;
  /** How many of the preliminary order were read for definitions: DEFINITION_HEAD. */
  readonly lookahead: number;
  /** The whole BM25 ranking, uncut; the first `depth` were fused. */
  readonly bm25: readonly RankedChunk[];
  /** The whole vector ranking, uncut (empty for a zero query vector); the first `depth` were fused. */
  readonly vector: readonly RankedChunk[];
  /** The fused candidates by preliminary score (before the definitions bonus), uncut. */
  readonly fused: readonly FusedChunk[];
  /** The final hybrid ranking of every candidate, uncut (`expected` is its first topK). */
  readonly ranking: readonly RankedChunk[];
  /** chunkKey of every candidate that defines a name the query asks for, strongly or loosely. */
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
    const known = terms.some((t) => this.chunks.some((c) => (c.terms.get(t) ?? 0) > 0));
    const base = { query, terms, known, topK, pathPrefix, index: this };
    const answers = terms.length > 0 && topK > 0 && known;
    const rank = async (which: 'bm25' | 'vector') =>
      answers ? (await this.scores(which, query, terms, pathPrefix)).sort(rankingOrder(which)) : [];
    if (mode !== 'hybrid') {
      const ranking = await rank(mode);
      return { ...base, mode, ranking, expected: ranking.slice(0, Math.max(topK, 0)) };
    }
    const bm25 = await rank('bm25');
    const vector = await rank('vector');
    const fused = answers ? fuseScores(bm25.slice(0, HYBRID_POOL), vector.slice(0, HYBRID_POOL), terms) : [];
    const wanted = queriedNames(query);
    const defining = new Set<string>();
    const final: RankedChunk[] = fused.map((candidate, position) => {
      const chunk = this.chunkAt(candidate.path, candidate.startLine);
      const bonus =
        chunk === undefined
          ? 0
          : definitionBonusOf(chunk.content, wanted, DEFINITION_STRONG, DEFINITION_WEAK);
      if (bonus > 0) defining.add(chunkKey(candidate));
      const score =
        position < DEFINITION_HEAD && bonus > 0 ? roundHybrid(candidate.score + bonus) : candidate.score;
      return { path: candidate.path, startLine: candidate.startLine, endLine: candidate.endLine, score };
    });
    const ranking = final.sort(rankingOrder('hybrid'));
    const expected = ranking.slice(0, Math.max(topK, 0));
    return {
      ...base,
      mode,
      depth: HYBRID_POOL,
      lookahead: DEFINITION_HEAD,
      bm25,
      vector,
      fused,
      ranking,
      defining,
      expected,
    };
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
