import { ARRAY, arrayValue, FLOAT, LIST, listValue, VARCHAR } from '@duckdb/node-api';
import type { Database } from './database.js';
import type { Embedder } from './embedder.js';
import { tokenize } from './tokenizer.js';
import type { SearchMode, SearchOptions, SearchResult } from './types.js';

export const DEFAULT_TOP_K = 10;
/** Reciprocal rank fusion constant (Cormack et al.); 60 is the usual choice. */
export const RRF_K = 60;
const BM25_K1 = 1.2;
const BM25_B = 0.75;
const PREVIEW_LINES = 3;
const PREVIEW_CHARS = 200;

interface Row {
  readonly id: bigint;
  readonly path: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly score: number;
  readonly content: string;
}

/**
 * Hybrid, vector and BM25 search over one index. Everything is plain, parameterised SQL on the
 * index's read connection: no extension is loaded (fts and vss cannot be downloaded here).
 */
export class Searcher {
  constructor(
    private readonly db: Database,
    private readonly embedder: Embedder,
  ) {}

  /**
   * Results best first. A query with no searchable terms (empty, punctuation only) has no honest
   * answer but "nothing matches": it returns an empty list rather than failing.
   */
  async search(query: string, options: SearchOptions = {}): Promise<SearchResult[]> {
    const mode: SearchMode = options.mode ?? 'hybrid';
    const topK = options.topK ?? DEFAULT_TOP_K;
    const prefix = options.pathPrefix ?? null;
    const terms = [...new Set(tokenize(query))];
    if (terms.length === 0 || topK <= 0) return [];
    if (mode === 'bm25') return (await this.bm25(terms, topK, prefix)).map(toResult);
    if (mode === 'vector') return (await this.vector(query, topK, prefix)).map(toResult);
    // Fusion needs more than topK from each list, or a chunk ranked well by both but just outside
    // one list's topK would be lost.
    const depth = Math.max(topK * 5, 50);
    const [lexical, semantic] = [
      await this.bm25(terms, depth, prefix),
      await this.vector(query, depth, prefix),
    ];
    return fuse([lexical, semantic], topK).map(toResult);
  }

  private async vector(query: string, limit: number, prefix: string | null): Promise<Row[]> {
    const [embedding] = await this.embedder.embed([query]);
    if (embedding === undefined || embedding.every((x) => x === 0)) return [];
    const dims = this.db.dimensions;
    // Stored vectors are L2-normalised, so the inner product is the cosine similarity, and cheaper.
    const sql = `
      WITH top AS (
        SELECT e.chunk_id, array_inner_product(e.vec, $1) AS score
        FROM embeddings e
        ${prefix === null ? '' : 'JOIN chunks c ON c.id = e.chunk_id WHERE starts_with(c.path, $3)'}
        ORDER BY score DESC, e.chunk_id
        LIMIT $2
      )
      SELECT c.id, c.path, c.start_line, c.end_line, top.score, c.content
      FROM top JOIN chunks c ON c.id = top.chunk_id
      ORDER BY top.score DESC, c.path, c.start_line`;
    const values = [arrayValue(Array.from(embedding)), limit, ...(prefix === null ? [] : [prefix])];
    const types = [ARRAY(FLOAT, dims), undefined, ...(prefix === null ? [] : [VARCHAR])];
    return this.query(sql, values, types);
  }

  private async bm25(terms: string[], limit: number, prefix: string | null): Promise<Row[]> {
    const sql = `
      WITH q AS (SELECT unnest($1) AS term),
      corpus AS (SELECT count(*)::DOUBLE AS n, coalesce(avg(length), 1)::DOUBLE AS avgdl FROM chunks),
      hits AS (SELECT p.term, p.chunk_id, p.tf FROM postings p SEMI JOIN q ON p.term = q.term),
      df AS (SELECT term, count(*)::DOUBLE AS df FROM hits GROUP BY term),
      scored AS (
        SELECT h.chunk_id,
          sum(ln((corpus.n - df.df + 0.5) / (df.df + 0.5) + 1)
              * h.tf * (${BM25_K1} + 1)
              / (h.tf + ${BM25_K1} * (1 - ${BM25_B} + ${BM25_B} * c.length / corpus.avgdl))) AS score
        FROM hits h JOIN df ON df.term = h.term JOIN chunks c ON c.id = h.chunk_id, corpus
        ${prefix === null ? '' : 'WHERE starts_with(c.path, $3)'}
        GROUP BY h.chunk_id
      )
      SELECT c.id, c.path, c.start_line, c.end_line, s.score, c.content
      FROM scored s JOIN chunks c ON c.id = s.chunk_id
      ORDER BY s.score DESC, c.path, c.start_line
      LIMIT $2`;
    const values = [listValue(terms), limit, ...(prefix === null ? [] : [prefix])];
    const types = [LIST(VARCHAR), undefined, ...(prefix === null ? [] : [VARCHAR])];
    return this.query(sql, values, types);
  }

  private query(
    sql: string,
    values: Parameters<import('@duckdb/node-api').DuckDBConnection['run']>[1],
    types: (import('@duckdb/node-api').DuckDBType | undefined)[],
  ): Promise<Row[]> {
    return this.db.read(async (conn) => {
      const reader = await conn.runAndReadAll(sql, values, types as never);
      return reader.getRows().map((row) => ({
        id: row[0] as bigint,
        path: String(row[1]),
        startLine: Number(row[2]),
        endLine: Number(row[3]),
        score: Number(row[4]),
        content: String(row[5]),
      }));
    });
  }
}

/**
 * Reciprocal rank fusion: each list contributes 1 / (RRF_K + rank) for each chunk it ranks.
 * Ties are broken by path and line so results are stable across runs and processes.
 */
export function fuse(lists: readonly (readonly Row[])[], topK: number): Row[] {
  const fused = new Map<bigint, { row: Row; score: number }>();
  for (const list of lists) {
    list.forEach((row, index) => {
      const entry = fused.get(row.id) ?? { row, score: 0 };
      entry.score += 1 / (RRF_K + index + 1);
      fused.set(row.id, entry);
    });
  }
  return [...fused.values()]
    .sort(
      (a, b) =>
        b.score - a.score || a.row.path.localeCompare(b.row.path) || a.row.startLine - b.row.startLine,
    )
    .slice(0, topK)
    .map(({ row, score }) => ({ ...row, score }));
}

function toResult(row: Row): SearchResult {
  return {
    path: row.path,
    startLine: row.startLine,
    endLine: row.endLine,
    score: row.score,
    preview: preview(row.content),
  };
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
