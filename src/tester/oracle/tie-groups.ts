import { RANK_DECIMALS, type RankedChunk, type RankedMode } from './ranking.js';
import { TOLERANCE, withinTolerance } from './tolerance.js';

/**
 * Near ties: where a ranking's order rests on floating-point noise, so that an index computing the
 * same scores another way may order (and cut) differently and still be right.
 */

/** Chunks of one group that the reference scored exactly alike. */
export interface ScoreClass {
  readonly score: number;
  /** In ranking order, which for equal scores is path, then first line. */
  readonly members: readonly RankedChunk[];
  /**
   * Whether the index is bound to order these members as the reference does. It is when its own
   * scores for them, equal or a few bits apart, round to one value: that holds unless the score lies
   * within the index's noise of a rounding boundary.
   */
  readonly pinned: boolean;
}

/**
 * A maximal run of a ranking in which each score is within tolerance of the next. Any order of the
 * group, and at a cut any subset of it, is an acceptable answer, except that each pinned class keeps
 * its order and a cut keeps a prefix of it.
 */
export interface TieGroup {
  /** First position in the ranking (0-based). */
  readonly start: number;
  /** Position after the last. */
  readonly end: number;
  readonly classes: readonly ScoreClass[];
  /** The rounding rule alone fixes the group's order: one class, pinned. */
  readonly resolved: boolean;
}

/**
 * How close (as a fraction of the rounding unit) a score may come to a rounding boundary before
 * the index's own noise could round one copy of it up and another down. BM25 sums the same terms
 * in any order, a few units in the last place apart (about 1e-14 for scores near 10, against a
 * margin of 1e-12). A vector ranking computes equal vectors identically, so equal scores stay equal.
 * A hybrid score is rounded from a sum with FLOAT noise in it (a good part of a rounding unit), so
 * no hybrid class is pinned (margin 1): near-tied hybrid results may come in any order.
 */
export const BOUNDARY_MARGIN: Readonly<Record<RankedMode, number>> = { bm25: 1e-3, vector: 0, hybrid: 1 };

/** Whether `score`, scaled to rounding units, is at least `margin` away from a half. */
function clearOfBoundary(score: number, decimals: number, margin: number): boolean {
  if (margin === 0) return true;
  const scaled = Math.abs(score * 10 ** decimals);
  const fraction = scaled - Math.floor(scaled);
  return Math.abs(fraction - 0.5) >= margin;
}

/** The tie groups of a ranking that is in ranking order, covering every position once. */
export function tieGroups(ranking: readonly RankedChunk[], mode: RankedMode): TieGroup[] {
  const tolerance = TOLERANCE[mode];
  const decimals = RANK_DECIMALS[mode];
  const groups: TieGroup[] = [];
  let start = 0;
  while (start < ranking.length) {
    let end = start + 1;
    while (
      end < ranking.length &&
      withinTolerance((ranking[end - 1] as RankedChunk).score, (ranking[end] as RankedChunk).score, tolerance)
    ) {
      end++;
    }
    const byScore = new Map<number, RankedChunk[]>();
    for (const chunk of ranking.slice(start, end)) {
      const members = byScore.get(chunk.score);
      if (members === undefined) byScore.set(chunk.score, [chunk]);
      else members.push(chunk);
    }
    const classes = [...byScore].map(([score, members]) => ({
      score,
      members,
      pinned: clearOfBoundary(score, decimals, BOUNDARY_MARGIN[mode]),
    }));
    const resolved = classes.length === 1 && (classes[0] as ScoreClass).pinned;
    groups.push({ start, end, classes, resolved });
    start = end;
  }
  return groups;
}

/** The first group, among those that reach into the first `depth` positions, that is not resolved. */
export function firstUnresolved(groups: readonly TieGroup[], depth: number): TieGroup | undefined {
  return groups.find((g) => g.start < depth && !g.resolved);
}
