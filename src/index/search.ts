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
} from '@duckdb/node-api';
import { EmbecodeError } from '../errors.js';
import type { Database } from './database.js';
import type { Embedder } from './embedder.js';
import { identifierParts, tokenize } from './tokenizer.js';
import type { SearchMode, SearchOptions, SearchResult } from './types.js';
import { comparePaths, VECTOR_RANK_DECIMALS } from './vector-cache.js';

export const DEFAULT_TOP_K = 10;
/** Reciprocal rank fusion constant (Cormack et al.); 60 is the usual choice. */
export const RRF_K = 60;
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
 * VECTOR_RANK_DECIMALS) descending, then path ascending by code unit, then start line. Chunk ids
 * follow write history, and a sum's last bits its order, so neither may decide between equals: an
 * index rebuilt from the same files must rank them the same. The score returned is not rounded.
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
        const vector = embedding as Float32Array;
        const hits =
          cache?.search(vector, topK, prefix) ?? (await this.vectorSql(conn, vector, topK, prefix));
        return withoutContent(await withContent(conn, hits));
      }
      // Fusion needs more than topK from each list, or a chunk ranked well by both but just outside
      // one list's topK would be lost. BM25 is sent to DuckDB first, so that its threads rank while
      // this one scores the cached vectors (which must happen before the first await, see snapshot).
      const depth = Math.max(topK * 5, 50);
      const lexicalPending = bm25(conn, terms, depth, prefix);
      lexicalPending.catch(() => undefined); // awaited below; this only keeps a failure from going unhandled
      const cached = embedding === undefined ? [] : cache?.search(embedding, depth, prefix);
      const lexical = await lexicalPending;
      const semantic = cached ?? (await this.vectorSql(conn, embedding as Float32Array, depth, prefix));
      // Rank fusion blurs "where is X defined": a file that calls X a lot can outrank X's definition.
      // So the fused head is re-read and a chunk that defines a queried identifier goes first.
      const lookahead = Math.max(topK * 2, DEFINITION_LOOKAHEAD);
      const head = await withContent(conn, fuse([lexical, semantic], lookahead));
      return definitionsFirst(head, query).slice(0, topK);
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

/**
 * Reciprocal rank fusion: each list contributes 1 / (RRF_K + rank) for each chunk it ranks.
 * Equal sums (common: one chunk 1st in one list and 2nd in the other, another the reverse) go to
 * the better rank in the earliest list that ranks either (in hybrid search, BM25 comes first: exact
 * keyword evidence beats a near-equal vector similarity), then by path (code unit order, as in
 * every ranking) and line, so results are stable across runs, processes and rebuilds.
 */
export function fuse<T extends Hit>(lists: readonly (readonly T[])[], topK: number): T[] {
  const fused = new Map<bigint, { row: T; score: number; ranks: number[] }>();
  lists.forEach((list, listIndex) => {
    list.forEach((row, index) => {
      let entry = fused.get(row.id);
      if (entry === undefined) {
        entry = { row, score: 0, ranks: lists.map(() => Number.POSITIVE_INFINITY) };
        fused.set(row.id, entry);
      }
      entry.score += 1 / (RRF_K + index + 1);
      entry.ranks[listIndex] = Math.min(entry.ranks[listIndex] as number, index);
    });
  });
  const byRanks = (a: number[], b: number[]) => {
    for (let i = 0; i < a.length; i++) {
      if (a[i] !== b[i]) return (a[i] as number) < (b[i] as number) ? -1 : 1;
    }
    return 0;
  };
  return [...fused.values()]
    .sort(
      (a, b) =>
        b.score - a.score ||
        byRanks(a.ranks, b.ranks) ||
        comparePaths(a.row.path, b.row.path) ||
        a.row.startLine - b.row.startLine,
    )
    .slice(0, topK)
    .map(({ row, score }) => ({ ...row, score }));
}

/** Fused results re-read for definitions: twice those asked for, at least this many. */
const DEFINITION_LOOKAHEAD = 10;

/**
 * A named definition at the start of a line, across the languages the chunker knows: the name is
 * group 1 (`export async function name`, `class Name`, `def name`, `pub fn name`, Go's
 * `func (r *T) Name`, `type Name`, `const name =` ...).
 */
const DEFINITION =
  /^[ \t]*(?:(?:export|default|declare|abstract|async|pub(?:\([^)]*\))?|public|private|protected|static|final|unsafe)\s+)*(?:function\*?|class|interface|type|enum|const|let|var|def|fn|func(?:\s*\([^)]*\))?|struct|trait|impl|mod|record)\s+([A-Za-z_$][\w$]*)/gm;

/** `parseHttpRequest`, `parse_http_request` and `ParseHTTPRequest` are one name to a person. */
function normalName(name: string): string {
  return identifierParts(name).join('');
}

/** The names a chunk defines, normalised. */
export function definedNames(content: string): Set<string> {
  return new Set([...content.matchAll(DEFINITION)].map((m) => normalName(m[1] as string)));
}

/**
 * Stable re-order: results that define one of the query's identifiers (in any case style) first,
 * the rest after, each group in its fused order. Returned without their content.
 */
export function definitionsFirst(
  results: readonly (SearchResult & { content: string })[],
  query: string,
): SearchResult[] {
  const wanted = new Set((query.match(/[A-Za-z_$][\w$]{2,}/g) ?? []).map(normalName));
  if (wanted.size === 0) return withoutContent(results);
  const defines = (r: { content: string }) => [...definedNames(r.content)].some((n) => wanted.has(n));
  return withoutContent([...results.filter(defines), ...results.filter((r) => !defines(r))]);
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
