import type { SearchMode } from '../../index/types.js';
import { whyNotCandidate } from './explain.js';
import { chunkKey, chunkLabel, type RankedChunk, type RankedMode } from './ranking.js';
import type { ReferenceHybridSearch, ReferenceRankedSearch, ReferenceSearch } from './reference-index.js';
import { describeHit, formatScore, sideBySide } from './table.js';
import { type ScoreClass, type TieGroup, tieGroups } from './tie-groups.js';
import { describeTolerance, TOLERANCE, withinTolerance } from './tolerance.js';

/** The index answered as the reference says, exactly (up to near ties). */
export interface Agreement {
  readonly kind: 'agree';
}

/**
 * The index's hybrid answer passed the loose checks (right count, candidates only, no repeats,
 * scores in order), because a near tie at a cut (a ranking's pool, or the head read for
 * definitions) leaves more than one right set of candidates.
 */
export interface LooseAgreement {
  readonly kind: 'agree-loosely';
  /** Which tie made the comparison loose, e.g. "vector ranks 12-13 are near-tied (0.1250000, 0.1250031)". */
  readonly why: string;
}

/** The index answered something no acceptable ordering of the reference explains. */
export interface Difference {
  readonly kind: 'differ';
  readonly mode: SearchMode;
  /** One line: the first rank (or count) at which the two disagree, and how. */
  readonly reason: string;
  /** Both lists side by side, one line a rank (see sideBySide). */
  readonly table: readonly string[];
  /** Whether the comparison was the loose one (with the tie that made it so); undefined when strict. */
  readonly loose: string | undefined;
}

export type Verdict = Agreement | LooseAgreement | Difference;

/**
 * `undefined` when `actual` (what the index returned, best first) is an acceptable answer to
 * `reference`, else the difference. See compareVerdict for what is acceptable.
 */
export function compare(actual: readonly RankedChunk[], reference: ReferenceSearch): Difference | undefined {
  const verdict = compareVerdict(actual, reference);
  return verdict.kind === 'differ' ? verdict : undefined;
}

/**
 * Judges an index's answer against the reference's.
 *
 * BM25 and vector: the same number of results; each a candidate of the reference; within each tie
 * group (tie-groups.ts) any order and, at the cut, any subset, except that chunks the reference
 * scored exactly alike keep their path-then-line order; each score within TOLERANCE of the
 * reference's score for that chunk.
 *
 * Hybrid: as BM25 and vector, against the reference's final hybrid ranking, when no near tie
 * straddles a cut that decides which chunks are candidates (each ranking's pool) or which get the
 * definitions bonus (the head); loosely otherwise (see LooseAgreement).
 */
export function compareVerdict(actual: readonly RankedChunk[], reference: ReferenceSearch): Verdict {
  return reference.mode === 'hybrid' ? compareHybrid(actual, reference) : compareRanked(actual, reference);
}

/** A failed check: its reason; the table is added by whoever knows both lists. */
type Failure = string | undefined;

function differ(
  actual: readonly RankedChunk[],
  reference: ReferenceSearch,
  reason: string,
  loose?: string,
): Difference {
  return {
    kind: 'differ',
    mode: reference.mode,
    reason,
    table: sideBySide(reference.expected, actual),
    loose,
  };
}

/** Repeats, chunks that are no candidate, and a wrong count: what no tie can excuse. */
function checkShape(
  actual: readonly RankedChunk[],
  reference: ReferenceSearch,
  isCandidate: (key: string) => boolean,
): Failure {
  const seen = new Map<string, number>();
  for (const [rank, hit] of actual.entries()) {
    const key = chunkKey(hit);
    const earlier = seen.get(key);
    if (earlier !== undefined) {
      return `rank ${rank + 1}: ${chunkLabel(hit)} again (also at rank ${earlier + 1})`;
    }
    seen.set(key, rank);
    if (!isCandidate(key))
      return `rank ${rank + 1}: got ${describeHit(hit)}, but ${whyNotCandidate(hit, reference)}`;
  }
  if (actual.length !== reference.expected.length) {
    return `expected ${reference.expected.length} results, got ${actual.length}`;
  }
  return undefined;
}

/** Where a chunk sits in a ranking's tie structure. */
interface Placement {
  readonly position: number;
  readonly hit: RankedChunk;
  readonly group: number;
  readonly scoreClass: ScoreClass;
  /** Its index among its class's members. */
  readonly inClass: number;
}

function placements(ranking: readonly RankedChunk[], groups: readonly TieGroup[]): Map<string, Placement> {
  const placed = new Map<string, Placement>();
  groups.forEach((group, g) => {
    for (const scoreClass of group.classes) {
      scoreClass.members.forEach((hit, inClass) => {
        const position = ranking.indexOf(hit, group.start);
        placed.set(chunkKey(hit), { position, hit, group: g, scoreClass, inClass });
      });
    }
  });
  return placed;
}

function compareRanked(
  actual: readonly RankedChunk[],
  reference: ReferenceRankedSearch | ReferenceHybridSearch,
): Verdict {
  const { ranking, mode } = reference;
  const groups = tieGroups(ranking, mode);
  const placed = placements(ranking, groups);
  const shape = checkShape(actual, reference, (key) => placed.has(key));
  if (shape !== undefined) return differ(actual, reference, shape);
  const groupAt = groups.flatMap((group, g) => Array.from({ length: group.end - group.start }, () => g));
  const taken = new Map<ScoreClass, number>();
  for (const [rank, hit] of actual.entries()) {
    const place = placed.get(chunkKey(hit)) as Placement;
    const failure = checkRank(rank, hit, place, groups[groupAt[rank] as number] as TieGroup, ranking, mode);
    if (failure !== undefined) return differ(actual, reference, failure);
    const before = taken.get(place.scoreClass) ?? 0;
    if (place.scoreClass.pinned && place.inClass !== before) {
      const due = place.scoreClass.members[before] as RankedChunk;
      return differ(
        actual,
        reference,
        `rank ${rank + 1}: expected ${describeHit(due)}, got ${describeHit(hit)}: equal scores go by path, then first line`,
      );
    }
    taken.set(place.scoreClass, before + 1);
  }
  return { kind: 'agree' };
}

/** The chunk at `rank` must come from the tie group that covers that position, with its score. */
function checkRank(
  rank: number,
  hit: RankedChunk,
  place: Placement,
  group: TieGroup,
  ranking: readonly RankedChunk[],
  mode: RankedMode,
): Failure {
  if (place.position < group.start || place.position >= group.end) {
    const due = ranking[rank] as RankedChunk;
    const size = group.end - group.start;
    const others =
      size > 1 ? ` or another of the ${size} near-tied chunks at ranks ${group.start + 1}-${group.end}` : '';
    return `rank ${rank + 1}: expected ${describeHit(due)}${others}, got ${describeHit(hit)}`;
  }
  const tolerance = TOLERANCE[mode];
  if (!withinTolerance(hit.score, place.hit.score, tolerance)) {
    return `rank ${rank + 1}: ${chunkLabel(hit)} scored ${formatScore(hit.score)}, expected ${formatScore(place.hit.score)} (${describeTolerance(tolerance)})`;
  }
  return undefined;
}

function compareHybrid(actual: readonly RankedChunk[], reference: ReferenceHybridSearch): Verdict {
  const loose = whyLoose(reference);
  if (loose === undefined) return compareRanked(actual, reference);
  const candidates = new Set([...reference.bm25, ...reference.vector].map(chunkKey));
  const failure = checkShape(actual, reference, (key) => candidates.has(key)) ?? checkInOrder(actual);
  return failure === undefined
    ? { kind: 'agree-loosely', why: loose }
    : differ(actual, reference, `${failure} (compared loosely: ${loose})`, loose);
}

/** Whether a near-tie group of `ranking` (in `mode`) has members on both sides of position `cut`. */
function straddles(ranking: readonly RankedChunk[], mode: RankedMode, cut: number): TieGroup | undefined {
  return tieGroups(ranking, mode).find((g) => g.start < cut && g.end > cut);
}

/** What makes the hybrid answer ambiguous, or undefined when the reference's ranking is the only right one. */
function whyLoose(reference: ReferenceHybridSearch): string | undefined {
  for (const mode of ['bm25', 'vector'] as const) {
    const tie = straddles(reference[mode], mode, reference.depth);
    if (tie !== undefined)
      return `${mode} ranks ${tie.start + 1}-${tie.end} are near-tied across the pool cut`;
  }
  const tie = straddles(reference.fused, 'hybrid', reference.lookahead);
  if (tie !== undefined) {
    return `preliminary hybrid ranks ${tie.start + 1}-${tie.end} are near-tied across the definitions head`;
  }
  return undefined;
}

/** Scores never go up: the score shown is the order. */
function checkInOrder(actual: readonly RankedChunk[]): Failure {
  for (let rank = 1; rank < actual.length; rank++) {
    const before = actual[rank - 1] as RankedChunk;
    const hit = actual[rank] as RankedChunk;
    if (hit.score > before.score) {
      return `rank ${rank + 1}: ${chunkLabel(hit)} scored ${formatScore(hit.score)}, above rank ${rank}'s ${formatScore(before.score)}`;
    }
  }
  return undefined;
}
