import { tokenize } from '../../index/tokenizer.js';
import { chunkKey, compareLocation, type RankedChunk, roundedKey } from './ranking.js';

/**
 * Hybrid search's score, written out from its spec (`hybridScore` and `rankHybrid` in
 * src/index/search.ts), not imported: each ranking is cut at HYBRID_POOL; a chunk of either cut
 * list scores
 *   (0.6 * bm25 / best bm25 + 0.4 * cosine / best cosine + 0.15 * share of query terms in
 *    its path) * (0.8 for a test or doc path when no query term asks for tests or docs, else 1),
 * where a cosine below 1e-4 (a best one included) counts as 0: rounding noise, not similarity,
 * rounded to 6 decimals; then the first DEFINITION_HEAD of that order add 1 for defining a name
 * the query spells as an identifier, exactly, or 0.25 for defining a queried word in any
 * spelling, and all are sorted again by score, path (UTF-8 bytes), first line.
 */

export const HYBRID_POOL = 1000;
export const DEFINITION_HEAD = 20;
export const HYBRID_DECIMALS = 6;
export const WEIGHT_BM25 = 0.6;
export const WEIGHT_VECTOR = 0.4;
export const WEIGHT_PATH = 0.15;
/** Cosines below this are no similarity (the index's FLOAT sums differ from these doubles there). */
export const COSINE_FLOOR = 1e-4;
export const SECONDARY_FACTOR = 0.8;
export const DEFINITION_STRONG = 1;
export const DEFINITION_WEAK = 0.25;

/** A hybrid candidate with what its score was made of, for explaining a difference. */
export interface FusedChunk extends RankedChunk {
  /** Its score before any definitions bonus. */
  readonly preliminary: number;
  /** 0-based rank in the cut BM25 and vector lists, in that order; `Infinity` where absent. */
  readonly ranks: readonly [number, number];
}

/** Whether a path is a test, spec, doc, example or fixture. */
export function isSecondary(path: string): boolean {
  const segments = path.split('/');
  const dirs = segments.slice(0, -1).map((s) => s.toLowerCase());
  const base = (segments[segments.length - 1] as string).toLowerCase();
  const secondaryDirs = [
    'test',
    'tests',
    '__tests__',
    'spec',
    'specs',
    'doc',
    'docs',
    'example',
    'examples',
    'fixture',
    'fixtures',
  ];
  if (dirs.some((d) => secondaryDirs.includes(d))) return true;
  for (const sep of ['.', '_', '-']) {
    for (const kind of ['test.', 'spec.']) {
      if (base.includes(`${sep}${kind}`)) return true;
    }
  }
  return ['.md', '.markdown', '.rst', '.txt'].some((ext) => base.endsWith(ext));
}

/** Whether the query asks for tests or docs (then they are not held back). */
export function asksForSecondary(terms: readonly string[]): boolean {
  const asking = new Set(
    ['test', 'tests', 'spec', 'specs', 'doc', 'docs', 'readme', 'example', 'fixture', 'markdown'].flatMap(
      (w) => tokenize(w),
    ),
  );
  return terms.some((t) => asking.has(t));
}

/** `x` rounded to HYBRID_DECIMALS, half away from zero, as a number. */
export function roundHybrid(x: number): number {
  return roundedKey(x, HYBRID_DECIMALS) / 10 ** HYBRID_DECIMALS;
}

/** Every chunk of the two cut lists by preliminary hybrid score, best first. */
export function fuseScores(
  lexical: readonly RankedChunk[],
  semantic: readonly RankedChunk[],
  terms: readonly string[],
): FusedChunk[] {
  const bestLexical = lexical.length === 0 ? 0 : Math.max(...lexical.map((c) => c.score));
  const bestSemantic = semantic.length === 0 ? 0 : Math.max(0, ...semantic.map((c) => c.score));
  const holdBack = !asksForSecondary(terms);
  const keys = new Map<string, RankedChunk>();
  for (const c of [...lexical, ...semantic]) if (!keys.has(chunkKey(c))) keys.set(chunkKey(c), c);
  const fused: FusedChunk[] = [];
  for (const [key, chunk] of keys) {
    const l = lexical.findIndex((c) => chunkKey(c) === key);
    const v = semantic.findIndex((c) => chunkKey(c) === key);
    const lexicalPart = l < 0 || bestLexical <= 0 ? 0 : (lexical[l] as RankedChunk).score / bestLexical;
    const cosine = v < 0 ? 0 : (semantic[v] as RankedChunk).score;
    const semanticPart = bestSemantic < COSINE_FLOOR || cosine < COSINE_FLOOR ? 0 : cosine / bestSemantic;
    const pathTerms = new Set(tokenize(chunk.path));
    const share = terms.length === 0 ? 0 : terms.filter((t) => pathTerms.has(t)).length / terms.length;
    let score = WEIGHT_BM25 * lexicalPart + WEIGHT_VECTOR * semanticPart + WEIGHT_PATH * share;
    if (holdBack && isSecondary(chunk.path)) score *= SECONDARY_FACTOR;
    const rounded = roundHybrid(score);
    fused.push({
      path: chunk.path,
      startLine: chunk.startLine,
      endLine: chunk.endLine,
      score: rounded,
      preliminary: rounded,
      ranks: [l < 0 ? Number.POSITIVE_INFINITY : l, v < 0 ? Number.POSITIVE_INFINITY : v],
    });
  }
  return fused.sort((a, b) => b.score - a.score || compareLocation(a, b));
}
