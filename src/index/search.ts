import { EmbecodeError } from '../errors.js';
import type { Database } from './database.js';
import { definitionBonus, queriedNames } from './definitions.js';
import {
  ARRAY,
  arrayValue,
  BIGINT,
  type DuckDBConnection,
  type DuckDBType,
  type DuckDBValue,
  FLOAT,
  INTEGER,
  LIST,
  listValue,
  VARCHAR,
} from './duckdb-api.js';
import type { Embedder } from './embedder.js';
import { tokenize } from './tokenizer.js';
import type { SearchMode, SearchOptions, SearchResult } from './types.js';
import { comparePaths, roundLikeDuckDB, VECTOR_RANK_DECIMALS } from './vector-cache.js';

export const DEFAULT_TOP_K = 10;
/**
 * Hybrid search ranks the union of each ranking's best HYBRID_POOL: as many as a search may ask
 * for (MAX_TOP_K of the protocol and CLI), so that no top-k depends on k and every top-k is a
 * prefix of the next.
 */
export const HYBRID_POOL = 1000;
/** How many of the hybrid ranking's head are read for the definitions they contain. */
export const DEFINITION_HEAD = 20;
/** Decimals a hybrid score is rounded to; the rounded score is the one shown and sorted by. */
export const HYBRID_DECIMALS = 6;
/**
 * What a hybrid score is made of (see hybridScore): BM25 and vector similarity, each scaled by
 * the best of its ranking, the share of query terms in the path, a bonus for defining a queried
 * name, and the factor for tests and docs when the query does not ask for them.
 */
export const HYBRID_WEIGHTS = {
  bm25: 0.6,
  vector: 0.4,
  path: 0.15,
  definition: 1,
  definitionLoose: 0.25,
  secondary: 0.8,
} as const;
const BM25_K1 = 1.2;
const BM25_B = 0.75;
/** Decimals of the BM25 score its ranking key keeps: sums of equal terms differ in their last bits. */
export const BM25_RANK_DECIMALS = 9;
const PREVIEW_LINES = 3;
const PREVIEW_CHARS = 200;
/** Up to this many distinct query terms are looked up one by one (see bm25); more go through one join. */
const MAX_UNION_TERMS = 32;
/** Up to this many results get their content by one point lookup each (see withContent). */
const MAX_UNION_IDS = 64;
/** Vector scoring in SQL sums only the query's non-zero dimensions when there are at most this many. */
const MAX_SPARSE_DIMS = 64;

/** A ranked chunk before its content is fetched. */
export interface Hit {
  readonly id: bigint;
  readonly path: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly score: number;
}

/**
 * Hybrid, vector and BM25 search over one index. Everything is plain, parameterised SQL on the
 * index's read connection (no extension is loaded: fts and vss cannot be downloaded here), except
 * that vector scoring uses the Database's in-memory VectorCache when it has one.
 *
 * All of one search runs in one `Database.snapshot`: its rankings and its content lookup read the
 * same committed state, and so does its use of the vector cache. Run as separate reads, a write
 * committing in between gave lists of no single state (a replaced file's hits dropped for want of
 * content, or ranked from two versions at once).
 *
 * Every ranking orders by the same key, the LIMIT cut included: score rounded (BM25_RANK_DECIMALS,
 * VECTOR_RANK_DECIMALS) descending, then path ascending by code point (UTF-8 bytes, in SQL and in JS), then start line. Chunk ids
 * follow write history, and a sum's last bits its order, so neither may decide between equals: an
 * index rebuilt from the same files must rank them the same. Vector mode returns that key as the
score (the owner's cache and DuckDB sum FLOATs apart in the last bit, so the raw score would differ
by route); hybrid mixes the raw scores and rounds its own.
 *
 * Each ranking returns ids, paths and lines only; the content (for previews) is fetched once, for
 * the final results: reading the content column of every candidate costs more than the ranking.
 */
export class Searcher {
  constructor(
    private readonly db: Database,
    private readonly embedder: Embedder,
  ) {}

  /**
   * Results best first. A query with no searchable terms (empty, punctuation only) has no honest
   * answer but "nothing matches": it returns an empty list rather than failing. An aborted `signal`
   * stops the search (see Database.snapshot) and rejects with its reason.
   */
  async search(query: string, options: SearchOptions = {}, signal?: AbortSignal): Promise<SearchResult[]> {
    const mode: SearchMode = options.mode ?? 'hybrid';
    const topK = options.topK ?? DEFAULT_TOP_K;
    const prefix = options.pathPrefix ?? null;
    const terms = [...new Set(tokenize(query))];
    if (terms.length === 0 || topK <= 0) return [];
    // Embedding and cache loading happen before the snapshot: a load waits for the write queue,
    // and a write's commit waits for the snapshot's start.
    const embedding = mode === 'bm25' ? undefined : await this.queryEmbedding(query);
    if (mode === 'vector' && embedding === undefined) return [];
    if (embedding !== undefined) await this.db.vectorCache()?.catch(() => undefined);
    signal?.throwIfAborted();
    return this.db.snapshot(async (conn, cache) => {
      if (mode === 'bm25')
        return withoutContent(await withContent(conn, await bm25(conn, terms, topK, prefix)));
      if (mode === 'vector') {
        // Similarity to a query none of whose terms is indexed is noise (trigrams and hash
        // collisions): such a query has no honest answer, in any mode.
        const vector = embedding as Float32Array;
        const cachedHits = cache?.search(vector, topK, prefix);
        if (!(await anyTermIndexed(conn, terms))) return [];
        const hits = cachedHits ?? (await this.vectorSql(conn, vector, topK, prefix));
        const keyed = hits.map((h) => ({ ...h, score: roundLikeDuckDB(h.score, VECTOR_RANK_DECIMALS) }));
        return withoutContent(await withContent(conn, keyed));
      }
      // BM25 is sent to DuckDB first, so that its threads rank while this one scores the cached
      // vectors (which must happen before the first await, see snapshot).
      const lexicalPending = bm25(conn, terms, HYBRID_POOL, prefix);
      lexicalPending.catch(() => undefined); // awaited below; this only keeps a failure from going unhandled
      const cached = embedding === undefined ? [] : cache?.search(embedding, HYBRID_POOL, prefix);
      const lexical = await lexicalPending;
      if (lexical.length === 0 && !(await anyTermIndexed(conn, terms))) return [];
      const semantic = cached ?? (await this.vectorSql(conn, embedding as Float32Array, HYBRID_POOL, prefix));
      // Only the first max(topK, head) can be returned: the rest stay below the head, bonus or not.
      const ranked = rankHybrid(lexical, semantic, query, Math.max(topK, DEFINITION_HEAD));
      // Only the head is read for definitions: a bonus never lowers a score, so every chunk past
      // the head, which keeps its score, stays below every chunk of the head.
      const head = await withContent(conn, ranked.slice(0, DEFINITION_HEAD));
      const wanted = queriedNames(query);
      const boosted = head.map((result) => {
        const bonus = definitionBonus(
          result.content,
          wanted,
          HYBRID_WEIGHTS.definition,
          HYBRID_WEIGHTS.definitionLoose,
        );
        return bonus === 0 ? result : { ...result, score: roundHybrid(result.score + bonus) };
      });
      const order = [...boosted, ...ranked.slice(DEFINITION_HEAD)].sort(byHybridScore).slice(0, topK);
      const read = new Map(boosted.map((r) => [`${r.path}\u0000${r.startLine}`, r]));
      const unread = order.filter((r) => !read.has(`${r.path}\u0000${r.startLine}`)) as Hit[];
      for (const r of await withContent(conn, unread)) read.set(`${r.path}\u0000${r.startLine}`, r);
      return withoutContent(
        order.map((r) => {
          const full = read.get(`${r.path}\u0000${r.startLine}`) as SearchResult & { content: string };
          return { ...full, score: r.score };
        }),
      );
    }, signal);
  }

  /** The query's embedding, or undefined for the zero vector (nothing to be similar to). */
  private async queryEmbedding(query: string): Promise<Float32Array | undefined> {
    const [embedding] = await this.embedder.embed([query]);
    return embedding === undefined || embedding.every((x) => x === 0) ? undefined : embedding;
  }

  private vectorSql(
    conn: DuckDBConnection,
    embedding: Float32Array,
    limit: number,
    prefix: string | null,
  ): Promise<Hit[]> {
    // Stored vectors are L2-normalised, so the inner product is the cosine similarity, and cheaper.
    // A query with few non-zero dimensions (the hashing embedder's usually has a few dozen) sums
    // only those: ~45% less time than array_inner_product over all of them at 100k x 384.
    const nonZero: number[] = [];
    embedding.forEach((x, d) => {
      if (x !== 0) nonZero.push(d);
    });
    const values: DuckDBValue[] = [];
    const types: (DuckDBType | undefined)[] = [];
    const param = (value: DuckDBValue, type: DuckDBType | undefined) => {
      values.push(value);
      types.push(type);
      return `$${values.length}`;
    };
    const score =
      nonZero.length <= MAX_SPARSE_DIMS
        ? nonZero
            .map((d) => `e.vec[${param(d + 1, INTEGER)}] * ${param(embedding[d] as number, FLOAT)}`)
            .join(' + ')
        : `array_inner_product(e.vec, ${param(arrayValue(Array.from(embedding)), ARRAY(FLOAT, this.db.dimensions))})`;
    const limitParam = param(limit, undefined);
    const filter =
      prefix === null
        ? ''
        : `SEMI JOIN chunks c ON c.id = e.chunk_id AND starts_with(c.path, ${param(prefix, VARCHAR)})`;
    // The key is rounded from the FLOAT score widened to DOUBLE, as the cache does in JS.
    const scored = `
      SELECT chunk_id, score, round(score::DOUBLE, ${VECTOR_RANK_DECIMALS}) AS rank_key
      FROM (SELECT e.chunk_id, (${score})::FLOAT AS score FROM embeddings e ${filter})`;
    return hits(conn, cutByRankKey(scored, limitParam), values, types);
  }
}

/**
 * The top `limit` of `scored` (chunk_id, score, rank_key) by (rank_key desc, path, start_line).
 * Paths are joined only for the rows whose key reaches the limit-th best key: every row of the
 * top `limit` is among them, ties at the cut included, and joining paths for every scored row
 * (all 100k embeddings, for a vector ranking) would cost more than the ranking.
 */
function cutByRankKey(scored: string, limitParam: string): string {
  return `
    WITH keyed AS MATERIALIZED (${scored}),
    edge AS (SELECT min(rank_key) AS rank_key FROM (SELECT rank_key FROM keyed ORDER BY rank_key DESC LIMIT ${limitParam}))
    SELECT c.id, c.path, c.start_line, c.end_line, k.score
    FROM keyed k JOIN chunks c ON c.id = k.chunk_id
    WHERE k.rank_key >= (SELECT rank_key FROM edge)
    ORDER BY k.rank_key DESC, c.path, c.start_line
    LIMIT ${limitParam}`;
}

/**
 * BM25 over the postings table. Each term is looked up on its own (`term = $i`, joined by UNION
 * ALL): postings are stored sorted by term within each write batch, so DuckDB skips the row groups
 * whose min/max exclude the term, where one lookup for all terms would scan from the smallest to
 * the largest. N, avgdl and df are corpus-wide; a path prefix only filters the chunks scored.
 */
function bm25(conn: DuckDBConnection, terms: string[], limit: number, prefix: string | null): Promise<Hit[]> {
  const perTerm = terms.length <= MAX_UNION_TERMS;
  const termCount = perTerm ? terms.length : 1;
  const limitParam = `$${termCount + 1}`;
  const prefixParam = `$${termCount + 2}`;
  const lookup = perTerm
    ? terms
        .map((_, i) => `SELECT term, chunk_id, tf FROM postings WHERE term = $${i + 1}`)
        .join(' UNION ALL ')
    : 'SELECT p.term, p.chunk_id, p.tf FROM postings p SEMI JOIN (SELECT unnest($1) AS term) q ON p.term = q.term';
  const scored = `
    WITH hits AS MATERIALIZED (${lookup}),
    corpus AS (SELECT count(*)::DOUBLE AS n, coalesce(avg(length), 1)::DOUBLE AS avgdl FROM chunks),
    df AS (SELECT term, count(*)::DOUBLE AS df FROM hits GROUP BY term),
    scored AS (
      SELECT h.chunk_id,
        sum(ln((corpus.n - df.df + 0.5) / (df.df + 0.5) + 1)
            * h.tf * (${BM25_K1} + 1)
            / (h.tf + ${BM25_K1} * (1 - ${BM25_B} + ${BM25_B} * c.length / corpus.avgdl))) AS score
      FROM hits h JOIN df ON df.term = h.term JOIN chunks c ON c.id = h.chunk_id, corpus
      ${prefix === null ? '' : `WHERE starts_with(c.path, ${prefixParam})`}
      GROUP BY h.chunk_id
    )
    SELECT chunk_id, score, round(score, ${BM25_RANK_DECIMALS}) AS rank_key FROM scored`;
  const values: DuckDBValue[] = [...(perTerm ? terms : [listValue(terms)]), limit];
  const types: (DuckDBType | undefined)[] = [
    ...(perTerm ? terms.map(() => VARCHAR) : [LIST(VARCHAR)]),
    undefined,
  ];
  if (prefix !== null) {
    values.push(prefix);
    types.push(VARCHAR);
  }
  return hits(conn, cutByRankKey(scored, limitParam), values, types);
}

/**
 * Attaches previews, in one query for all hits. Within one snapshot every ranked chunk has its
 * content; a missing one means a ranking read another state, which is a bug to report, not hide.
 */
async function withContent(
  conn: DuckDBConnection,
  hits: readonly Hit[],
): Promise<(SearchResult & { readonly content: string })[]> {
  if (hits.length === 0) return [];
  // Point lookups joined by UNION ALL: chunk ids grow with insertion order, so each lookup reads
  // one row group; one `IN (list)` would read the content of every row group between the
  // smallest and largest id (~10 ms against ~20-50 ms for 10 results at 100k chunks).
  const ids = hits.map((h) => h.id);
  const sql =
    ids.length <= MAX_UNION_IDS
      ? ids.map((_, i) => `SELECT id, content FROM chunks WHERE id = $${i + 1}`).join(' UNION ALL ')
      : 'SELECT id, content FROM chunks WHERE id IN (SELECT unnest($1))';
  const values = ids.length <= MAX_UNION_IDS ? ids : [listValue(ids)];
  const types = ids.length <= MAX_UNION_IDS ? ids.map(() => BIGINT) : [LIST(BIGINT)];
  const reader = await conn.runAndReadAll(sql, values, types);
  const content = new Map(reader.getRows().map((row) => [row[0] as bigint, String(row[1])]));
  return hits.map((hit) => {
    const text = content.get(hit.id);
    if (text === undefined) {
      throw new EmbecodeError(
        'internal',
        `chunk ${hit.id} of ${hit.path} was ranked but has no content in the same snapshot`,
      );
    }
    return {
      path: hit.path,
      startLine: hit.startLine,
      endLine: hit.endLine,
      score: hit.score,
      preview: preview(text),
      content: text,
    };
  });
}

async function hits(
  conn: DuckDBConnection,
  sql: string,
  values: DuckDBValue[],
  types: (DuckDBType | undefined)[],
): Promise<Hit[]> {
  const reader = await conn.runAndReadAll(sql, values, types as DuckDBType[]);
  return reader.getRows().map((row) => ({
    id: row[0] as bigint,
    path: String(row[1]),
    startLine: Number(row[2]),
    endLine: Number(row[3]),
    score: Number(row[4]),
  }));
}

/** Rounded as the hybrid score is shown and sorted. */
function roundHybrid(score: number): number {
  return roundLikeDuckDB(score, HYBRID_DECIMALS);
}

/** Score (rounded) descending, then path and first line, as every ranking. */
function byHybridScore(a: Omit<Hit, 'id'>, b: Omit<Hit, 'id'>): number {
  return b.score - a.score || comparePaths(a.path, b.path) || a.startLine - b.startLine;
}

/** Paths of tests, specs, docs and examples: what a question about the code seldom wants first. */
const SECONDARY_PATH =
  /(?:^|\/)(?:tests?|__tests__|specs?|docs?|examples?|fixtures?)\/|[._-](?:test|spec)\.[^/]*$|\.(?:md|markdown|rst|txt)$/i;
/** Stemmed query terms that ask for tests or docs, which are then not held back. */
const ASKS_FOR_SECONDARY: ReadonlySet<string> = new Set(
  ['test', 'tests', 'spec', 'specs', 'doc', 'docs', 'readme', 'example', 'fixture', 'markdown'].flatMap(
    tokenize,
  ),
);

/** Whether `path` is a test, spec, doc or example file. */
export function isSecondaryPath(path: string): boolean {
  return SECONDARY_PATH.test(path);
}

/**
 * The hybrid score before the definitions bonus, for a chunk BM25 scored `lexical` (undefined when
 * it did not) and the vector ranking `semantic`, given each ranking's best score:
 *
 *   (0.6 * lexical / bestLexical + 0.4 * similar(semantic) / bestSemantic + 0.15 * pathShare)
 *     * (0.8 when the path is a test or doc and the query asks for neither, else 1)
 *
 * where similar(x) is x from SEMANTIC_FLOOR on and 0 below it (and a best below it makes the whole
 * vector part 0). A cosine that small is no similarity but rounding: the index sums FLOATs, and
 * dividing such noise by an equally noisy best would hand a chunk that shares nothing with the
 * query the full 0.4 (seen in a stress run: a path-filtered hybrid search scored the only chunk
 * under the prefix 0.4 for a word found only outside it).
 *
 * Scaling by the best keeps BM25's first hit at 0.6 at least, above any chunk only the vector
 * ranking found (0.4 at most): a rare identifier found by BM25 is never drowned by similarity.
 * pathShare is the share of the query's distinct terms among the path's terms.
 */
/** The smallest cosine the hybrid score counts as similarity (see hybridScore). */
export const SEMANTIC_FLOOR = 1e-4;

export function hybridScore(parts: {
  readonly lexical: number | undefined;
  readonly bestLexical: number;
  readonly semantic: number | undefined;
  readonly bestSemantic: number;
  readonly pathShare: number;
  readonly secondary: boolean;
}): number {
  const w = HYBRID_WEIGHTS;
  const lexical =
    parts.lexical === undefined || parts.bestLexical <= 0 ? 0 : parts.lexical / parts.bestLexical;
  const semantic =
    parts.semantic === undefined || parts.bestSemantic < SEMANTIC_FLOOR || parts.semantic < SEMANTIC_FLOOR
      ? 0
      : parts.semantic / parts.bestSemantic;
  const sum = w.bm25 * lexical + w.vector * semantic + w.path * parts.pathShare;
  return parts.secondary ? sum * w.secondary : sum;
}

/**
 * The best `limit` chunks of the two rankings (each cut at HYBRID_POOL, best first) by hybrid
 * score before the definitions bonus, rounded, best first; the score is that rounded score. The
 * order is that of all of them scored and sorted, cut at `limit` (default: all of them).
 *
 * Only the candidates that can reach the first `limit` get their path's terms looked up, which is
 * most of the cost of scoring a pool: the path term adds at most HYBRID_WEIGHTS.path and the test
 * and docs factor only lowers a score, so a candidate whose BM25 and vector parts plus that
 * most cannot reach the limit-th score found so far is left out without it.
 */
export function rankHybrid<T extends Hit>(
  lexical: readonly T[],
  semantic: readonly T[],
  query: string,
  limit = Number.POSITIVE_INFINITY,
): T[] {
  const terms = [...new Set(tokenize(query))];
  const holdBack = !terms.some((t) => ASKS_FOR_SECONDARY.has(t));
  const bestLexical = lexical[0]?.score ?? 0;
  const bestSemantic = Math.max(semantic[0]?.score ?? 0, 0);
  const byId = new Map<bigint, Candidate<T>>();
  for (const hit of lexical) byId.set(hit.id, { hit, lexical: hit.score, semantic: undefined, bound: 0 });
  for (const hit of semantic) {
    const entry = byId.get(hit.id);
    if (entry === undefined) byId.set(hit.id, { hit, lexical: undefined, semantic: hit.score, bound: 0 });
    else entry.semantic = hit.score;
  }
  const shareOf = (path: string): number => {
    if (terms.length === 0) return 0;
    const set = new Set(tokenize(path));
    let found = 0;
    for (const t of terms) if (set.has(t)) found++;
    return found / terms.length;
  };
  const scoreOf = (c: Candidate<T>, pathShare: number, secondary: boolean): number =>
    roundHybrid(
      hybridScore({
        lexical: c.lexical,
        bestLexical,
        semantic: c.semantic,
        bestSemantic,
        pathShare,
        secondary,
      }),
    );
  const scored = (c: Candidate<T>): T => {
    let share = shares.get(c.hit.path);
    if (share === undefined) {
      share = shareOf(c.hit.path);
      shares.set(c.hit.path, share);
    }
    return { ...c.hit, score: scoreOf(c, share, holdBack && isSecondaryPath(c.hit.path)) };
  };
  const shares = new Map<string, number>();
  const candidates = [...byId.values()];
  if (limit >= candidates.length) return candidates.map(scored).sort(byHybridScore);
  // The most a candidate can score: a path holding every query term, with the test and docs
  // factor or without (it lowers a positive sum, and would raise a negative one). Float addition
  // and multiplication by a share of at most 1 never raise a sum, and rounding keeps order, so no
  // candidate scores above its bound.
  for (const c of candidates) c.bound = Math.max(scoreOf(c, 1, false), scoreOf(c, 1, true));
  candidates.sort((a, b) => b.bound - a.bound);
  const kept: T[] = [];
  for (const c of candidates) {
    const last = kept[kept.length - 1];
    if (kept.length >= limit && last !== undefined && c.bound < last.score) break;
    const hit = scored(c);
    if (kept.length >= limit && last !== undefined && byHybridScore(hit, last) > 0) continue;
    insertSorted(kept, hit, limit);
  }
  return kept;
}

interface Candidate<T> {
  readonly hit: T;
  lexical: number | undefined;
  semantic: number | undefined;
  /** Its score's upper bound whatever its path (see rankHybrid). */
  bound: number;
}

/** Inserts `item` into `sorted` (byHybridScore order) and keeps at most `limit`. */
function insertSorted<T extends Omit<Hit, 'id'>>(sorted: T[], item: T, limit: number): void {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (byHybridScore(sorted[mid] as T, item) <= 0) lo = mid + 1;
    else hi = mid;
  }
  sorted.splice(lo, 0, item);
  if (sorted.length > limit) sorted.pop();
}

/** Whether any of `terms` occurs anywhere in the index (whatever the path prefix). */
async function anyTermIndexed(conn: DuckDBConnection, terms: readonly string[]): Promise<boolean> {
  const perTerm = terms.length <= MAX_UNION_TERMS;
  const sql = perTerm
    ? terms.map((_, i) => `(SELECT 1 FROM postings WHERE term = $${i + 1} LIMIT 1)`).join(' UNION ALL ')
    : 'SELECT 1 FROM postings p SEMI JOIN (SELECT unnest($1) AS term) q ON p.term = q.term LIMIT 1';
  const reader = await conn.runAndReadAll(
    sql,
    perTerm ? [...terms] : [listValue([...terms])],
    perTerm ? terms.map(() => VARCHAR) : [LIST(VARCHAR)],
  );
  return reader.getRows().length > 0;
}

function withoutContent(results: readonly (SearchResult & { content?: string })[]): SearchResult[] {
  return results.map(({ content: _content, ...result }) => result);
}

function preview(content: string): string {
  const lines = content
    .split(/\r?\n/)
    .map((line) => line.trimEnd())
    .filter((line) => line.trim().length > 0)
    .slice(0, PREVIEW_LINES)
    .join('\n');
  return lines.length > PREVIEW_CHARS ? `${lines.slice(0, PREVIEW_CHARS - 1)}…` : lines;
}
