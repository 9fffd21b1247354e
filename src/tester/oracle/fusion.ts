import { chunkKey, compareLocation, type RankedChunk } from './ranking.js';

/** Reciprocal rank fusion's constant: the usual 60 of Cormack et al. */
export const RRF_K = 60;

/** A chunk of a fused list, with where each input list ranked it. */
export interface FusedChunk extends RankedChunk {
  /** 0-based rank in each input list, in list order; `Infinity` where the list lacks the chunk. */
  readonly ranks: readonly number[];
}

/** What a chunk at 0-based `rank` of one list adds to its fused score. */
export function rrfTerm(rank: number): number {
  return 1 / (RRF_K + rank + 1);
}

function compareRanks(a: readonly number[], b: readonly number[]): number {
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

/**
 * Every chunk of `lists` by fused score, best first, uncut. A chunk's score is the sum of
 * `rrfTerm(rank)` over the lists that rank it, added list by list from zero, so that the double is
 * the one the index computes. Equal scores go to the better rank in the earliest list that ranks
 * either chunk (a chunk a list lacks ranks after every chunk it has), then by path and first line.
 */
export function fuseRankings(lists: readonly (readonly RankedChunk[])[]): FusedChunk[] {
  const fused = new Map<string, { chunk: RankedChunk; score: number; ranks: number[] }>();
  lists.forEach((list, listIndex) => {
    list.forEach((chunk, rank) => {
      const key = chunkKey(chunk);
      let entry = fused.get(key);
      if (entry === undefined) {
        entry = { chunk, score: 0, ranks: lists.map(() => Number.POSITIVE_INFINITY) };
        fused.set(key, entry);
      }
      entry.score += rrfTerm(rank);
      entry.ranks[listIndex] = rank;
    });
  });
  return [...fused.values()]
    .sort((a, b) => b.score - a.score || compareRanks(a.ranks, b.ranks) || compareLocation(a.chunk, b.chunk))
    .map(({ chunk, score, ranks }) => ({
      path: chunk.path,
      startLine: chunk.startLine,
      endLine: chunk.endLine,
      score,
      ranks,
    }));
}

function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}

/** A fused score as an exact fraction, `numerator/denominator` in lowest terms. */
export function exactFusedScore(ranks: readonly number[]): string {
  let numerator = 0;
  let denominator = 1;
  for (const rank of ranks) {
    if (!Number.isFinite(rank)) continue;
    const d = RRF_K + rank + 1;
    numerator = numerator * d + denominator;
    denominator *= d;
    const g = gcd(numerator, denominator);
    numerator /= g;
    denominator /= g;
  }
  return `${numerator}/${denominator}`;
}

/**
 * Whether two of `fused` have equal scores as fractions but not as doubles (1/66 against
 * 1/110 + 1/165): their order then rests on rounding error, which an index that fuses in any other
 * way (or rounds) would be right to decide otherwise.
 */
export function hasInexactTie(fused: readonly FusedChunk[]): boolean {
  const scores = new Map<string, number>();
  for (const chunk of fused) {
    const exact = exactFusedScore(chunk.ranks);
    const seen = scores.get(exact);
    if (seen !== undefined && seen !== chunk.score) return true;
    scores.set(exact, chunk.score);
  }
  return false;
}
