import type { Embedder } from '../../index/embedder.js';
import type { Checker, Violation } from '../checkers/checker.js';
import { exclusivityChecker } from '../checkers/exclusivity.js';
import { oracleJudge } from '../checkers/oracle.js';
import { allOf, requestOf, type StateJudge, tokenJudge } from '../checkers/single-state.js';
import type { FileState, IndexState } from '../checkers/states.js';
import type { StepEvent } from '../history.js';
import type { FileVersion, ProjectTree } from './project.js';

/**
 * The serve contract on searches and catch-ups, judged from the history and the project tree:
 *
 * - A search through any live serve answers from one state of the index in which every file is at
 *   a version it may be at: no older than the newest version a catch-up acknowledged before the
 *   search started (the catch-up request left after that version was on disk), no newer than what
 *   was on disk before the search ended. A deletion is a version like any other, so a file whose
 *   deletion was acknowledged is not seen. Files are judged each on its own, since a catch-up walks
 *   the tree one file at a time; within that, the same judges as the strategy target (the tokens,
 *   and the differential oracle's reference index over exactly those files).
 * - A search or catch-up either answers, or fails with a retryable error (`unavailable`: no owner
 *   right now, a serve stopping); any other error, and a step past its deadline, fails the run.
 * - Intruder probes: the strategy target's exclusivity rule.
 */
export function serveChecker(project: ProjectTree, embedder: Embedder): Checker {
  const judge = allOf([tokenJudge, oracleJudge(embedder)]);
  return {
    name: 'serve',
    async check(history, event) {
      if (event.actor === 'intruder') return exclusivityChecker.check(history, event);
      if (event.op !== 'search' && event.op !== 'catch-up') return undefined;
      if (event.outcome !== 'ok') return outcomeRule(event);
      if (event.op === 'catch-up') return undefined;
      return judgeSearch(project, history, event, judge);
    },
  };
}

/** The error kinds a search or catch-up may meet during a takeover or a stop: retry later. */
const RETRYABLE = new Set(['unavailable']);

function outcomeRule(event: StepEvent): Violation | undefined {
  const kind = event.errorKind ?? 'error';
  if (RETRYABLE.has(kind)) return undefined;
  const what = `${event.actor}.${event.op} (pid ${event.pid})`;
  if (kind === 'hang') return { kind: 'hang', message: `${what} hung: ${event.error}` };
  return {
    kind: 'serve-error',
    message: `${what} failed with a non-retryable error (${kind}): ${event.error}`,
  };
}

/** The allowed versions of each file for `search`, newest first, and why the oldest is the oldest. */
export function allowedVersions(
  project: ProjectTree,
  history: readonly StepEvent[],
  search: StepEvent,
): Map<string, { versions: FileVersion[]; acknowledgedBy?: number }> {
  const acks = history.filter((e) => e.op === 'catch-up' && e.outcome === 'ok' && e.end < search.start);
  const allowed = new Map<string, { versions: FileVersion[]; acknowledgedBy?: number }>();
  for (const path of project.paths) {
    const versions = project.history(path);
    let lowest = 0;
    let by: number | undefined;
    versions.forEach((v, i) => {
      const ack = acks.find((c) => c.start >= v.end);
      if (ack !== undefined && i >= lowest) {
        lowest = i;
        by = ack.index;
      }
    });
    let highest = lowest;
    versions.forEach((v, i) => {
      if (v.start < search.end && i > highest) highest = i;
    });
    allowed.set(path, {
      versions: versions.slice(lowest, highest + 1).reverse(),
      ...(by === undefined ? {} : { acknowledgedBy: by }),
    });
  }
  return allowed;
}

/** Beyond this many combinations, only the first (newest) ones are tried. */
const MAX_STATES = 512;

function* combinations(choices: readonly (readonly FileVersion[])[]): Generator<FileVersion[]> {
  const at = choices.map(() => 0);
  for (let n = 0; n < MAX_STATES; n++) {
    yield choices.map((c, i) => c[at[i] as number] as FileVersion);
    let i = choices.length - 1;
    while (i >= 0) {
      at[i] = (at[i] as number) + 1;
      if ((at[i] as number) < (choices[i] as readonly FileVersion[]).length) break;
      at[i] = 0;
      i--;
    }
    if (i < 0) return;
  }
}

function stateOf(versions: readonly FileVersion[]): IndexState {
  const files = new Map<string, FileState>();
  for (const v of versions) {
    if (v.content === undefined) continue;
    files.set(
      v.path,
      v.token === undefined ? { content: v.content } : { content: v.content, token: v.token },
    );
  }
  return { prefix: 0, dropped: [], files };
}

async function judgeSearch(
  project: ProjectTree,
  history: readonly StepEvent[],
  search: StepEvent,
  judge: StateJudge,
): Promise<Violation | undefined> {
  const allowed = allowedVersions(project, history, search);
  const choices = [...allowed.values()].map((a) => a.versions);
  let newest: { reason: string; details?: string } | undefined;
  for (const combination of combinations(choices)) {
    const verdict = await judge(stateOf(combination), search);
    if (verdict.agrees) return undefined;
    newest ??= {
      reason: verdict.reason,
      ...(verdict.details === undefined ? {} : { details: verdict.details }),
    };
  }
  const { mode, query } = requestOf(search);
  const bounds = [...allowed.entries()]
    .filter(([, a]) => a.acknowledgedBy !== undefined)
    .map(([path, a]) => {
      const oldest = a.versions.at(-1);
      const at = oldest?.content === undefined ? 'deleted' : (oldest.token ?? 'present');
      return `${path} at least ${at} (catch-up #${a.acknowledgedBy})`;
    });
  return {
    kind: 'results-differ',
    message: `search #${search.index} (${search.actor} pid ${search.pid}, ${mode} '${query}') matches no state the project allows${bounds.length === 0 ? '' : ` (${bounds.join('; ')})`}${newest === undefined ? '' : `; against the newest files: ${newest.reason}`}`,
    ...(newest?.details === undefined ? {} : { details: newest.details }),
  };
}
