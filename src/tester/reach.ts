import type { StepEvent } from './history.js';

/**
 * What a run exercised, counted from its history: the proof that a passing suite tested
 * something. Counts add up over a suite's runs (shrinking runs included).
 */
export interface Reach {
  /** Steps by `actor.op` (readers counted together as `reader`). */
  readonly steps: Readonly<Record<string, number>>;
  /** Searches that returned a list. */
  readonly searches: number;
  /** Of those: as many results as the top-k allowed (the list was cut). */
  readonly truncated: number;
  readonly pathFiltered: number;
  readonly emptyResults: number;
  /** Searches that overlapped a write or delete in time. */
  readonly racingMutation: number;
  /** Searches that overlapped a checkpoint or a release. */
  readonly racingCheckpointOrRelease: number;
  /** Searches whose results matched a state older than the newest one they could have read. */
  readonly matchedOlderState: number;
  /** Two reader processes searching at the same time. */
  readonly readersOverlapping: number;
  readonly intruderRefused: number;
  readonly intruderGotIn: number;
  /** Steps whose outcome was `info` (a process died, a deadline passed). */
  readonly undetermined: number;
  /** Searches told to retry while the owner went away. */
  readonly toldToRetry: number;
  /** Serve target: searches overlapping an owner's stop and the takeover after it. */
  readonly searchesDuringTakeover: number;
  /** Serve target: catch-up requests the owner acknowledged. */
  readonly catchUpsAcknowledged: number;
  /** Serve target: SIGKILLs and SIGTERMs sent while a search or catch-up was in flight. */
  readonly killsMidRequest: number;
}

export const NO_REACH: Reach = {
  steps: {},
  searches: 0,
  truncated: 0,
  pathFiltered: 0,
  emptyResults: 0,
  racingMutation: 0,
  racingCheckpointOrRelease: 0,
  matchedOlderState: 0,
  readersOverlapping: 0,
  intruderRefused: 0,
  intruderGotIn: 0,
  undetermined: 0,
  toldToRetry: 0,
  searchesDuringTakeover: 0,
  catchUpsAcknowledged: 0,
  killsMidRequest: 0,
};

const isServeKill = (e: StepEvent) => e.actor === 'nemesis' && (e.op === 'sigkill' || e.op === 'sigterm');

/** Serve target: from each owner's kill to the end of the takeover that followed it. */
function takeoverWindows(history: readonly StepEvent[]): { start: number; end: number }[] {
  return history
    .filter((e) => isServeKill(e) && e.args.owner === true)
    .map((kill) => {
      const took = history.find((t) => t.actor === 'nemesis' && t.op === 'takeover' && t.start >= kill.end);
      return { start: kill.start, end: took?.end ?? kill.end };
    });
}

function overlaps(a: StepEvent, b: StepEvent): boolean {
  return a.start < b.end && b.start < a.end;
}

function actorKind(event: StepEvent): string {
  return event.actor.startsWith('reader-') ? 'reader' : event.actor;
}

/** What one run's history reached. */
export function reachOf(history: readonly StepEvent[]): Reach {
  const steps: Record<string, number> = {};
  const mutations = history.filter((e) => e.actor === 'owner' && (e.op === 'write' || e.op === 'delete'));
  const pauses = history.filter((e) => e.actor === 'owner' && (e.op === 'checkpoint' || e.op === 'release'));
  const searches = history.filter((e) => e.op === 'search');
  const ok = searches.filter((e) => e.outcome === 'ok');
  const count = (pred: (e: StepEvent) => boolean) => ok.filter(pred).length;
  for (const e of history) {
    const key = `${actorKind(e)}.${e.op}`;
    steps[key] = (steps[key] ?? 0) + 1;
  }
  return {
    steps,
    searches: ok.length,
    truncated: count((e) => (e.results?.length ?? 0) >= Number(e.args.topK)),
    pathFiltered: count((e) => e.args.pathPrefix !== undefined),
    emptyResults: count((e) => (e.results?.length ?? 0) === 0),
    racingMutation: count((e) => mutations.some((m) => overlaps(m, e))),
    racingCheckpointOrRelease: count((e) => pauses.some((p) => overlaps(p, e))),
    matchedOlderState: count(
      (e) => e.matched !== undefined && e.matched < mutations.filter((m) => m.start < e.end).length,
    ),
    readersOverlapping: count((e) => searches.some((o) => o !== e && o.actor !== e.actor && overlaps(o, e))),
    intruderRefused: history.filter((e) => e.actor === 'intruder' && e.detail?.gotIn === false).length,
    intruderGotIn: history.filter((e) => e.actor === 'intruder' && e.detail?.gotIn === true).length,
    undetermined: history.filter((e) => e.outcome === 'info').length,
    toldToRetry: searches.filter((e) => e.errorKind === 'unavailable').length,
    searchesDuringTakeover: searches.filter((e) =>
      takeoverWindows(history).some((w) => e.start < w.end && w.start < e.end),
    ).length,
    catchUpsAcknowledged: history.filter((e) => e.op === 'catch-up' && e.outcome === 'ok').length,
    killsMidRequest: history.filter(
      (k) =>
        isServeKill(k) &&
        history.some(
          (r) => (r.op === 'search' || r.op === 'catch-up') && r.start < k.start && k.start < r.end,
        ),
    ).length,
  };
}

export function addReach(a: Reach, b: Reach): Reach {
  const steps: Record<string, number> = { ...a.steps };
  for (const [k, v] of Object.entries(b.steps)) steps[k] = (steps[k] ?? 0) + v;
  const sum = {} as Record<string, number>;
  for (const key of Object.keys(NO_REACH) as (keyof Reach)[]) {
    if (key !== 'steps') sum[key] = (a[key] as number) + (b[key] as number);
  }
  return { ...(sum as unknown as Reach), steps };
}

/** An event a suite must reach, and how to read it off the counts. */
export interface ReachGoal {
  readonly name: string;
  readonly reached: (reach: Reach) => boolean;
}

/** What every strategy's suite must reach, whatever its contract. */
export const COMMON_GOALS: readonly ReachGoal[] = [
  { name: 'a search whose top-k truncated the list', reached: (r) => r.truncated > 0 },
  { name: 'a search filtered by a path prefix', reached: (r) => r.pathFiltered > 0 },
  { name: 'a search racing a write or delete', reached: (r) => r.racingMutation > 0 },
  { name: 'a search racing a checkpoint or release', reached: (r) => r.racingCheckpointOrRelease > 0 },
  { name: 'two reader processes searching at once', reached: (r) => r.readersOverlapping > 0 },
  { name: 'an intruder kept out of the index', reached: (r) => r.intruderRefused > 0 },
];

/** Goals only a run with faults can reach. */
export const FAULT_GOALS: readonly ReachGoal[] = [
  {
    name: 'an owner killed in the middle of a write',
    reached: (r) => (r.steps['owner.write'] ?? 0) > 0 && r.undetermined > 0,
  },
  { name: 'an owner restarted after a kill', reached: (r) => (r.steps['owner.restart'] ?? 0) > 0 },
  { name: 'a reader process killed', reached: (r) => (r.steps['nemesis.kill-reader'] ?? 0) > 0 },
];

/** The goals `reach` never met. */
export function unreached(reach: Reach, goals: readonly ReachGoal[]): string[] {
  return goals.filter((g) => !g.reached(reach)).map((g) => g.name);
}

/** The counts as a short table for the end of a run. */
export function formatReach(reach: Reach): string {
  const serve = Object.keys(reach.steps).some((k) => k.endsWith('.catch-up'));
  const serveRows: [string, number][] = serve
    ? [
        ['searches during a takeover, any outcome', reach.searchesDuringTakeover],
        ['catch-ups acknowledged (serve)', reach.catchUpsAcknowledged],
        ['kills mid-request (serve)', reach.killsMidRequest],
      ]
    : [];
  const rows: [string, number][] = [
    ['searches', reach.searches],
    ['  truncated at top-k', reach.truncated],
    ['  under a path prefix', reach.pathFiltered],
    ['  with results', reach.searches - reach.emptyResults],
    ['  with no results', reach.emptyResults],
    ['  racing a write or delete', reach.racingMutation],
    ['  racing a checkpoint or release', reach.racingCheckpointOrRelease],
    ['  matching an older state than the newest', reach.matchedOlderState],
    ['  while another reader searched', reach.readersOverlapping],
    ['  told to retry', reach.toldToRetry],
    ...serveRows,
    ['intruder kept out', reach.intruderRefused],
    ['intruder let in', reach.intruderGotIn],
    ['undetermined steps (info)', reach.undetermined],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  const mix = Object.entries(reach.steps)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return [...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`), `  steps: ${mix}`].join('\n');
}
