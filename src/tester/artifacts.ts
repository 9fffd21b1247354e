import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { makeDirectories } from './directories.js';
import type { StepEvent } from './history.js';
import { type Counterexample, errorLine, formatSteps, judgement } from './report.js';
import { type RunActor, timelineHtml } from './timeline.js';
import type { Versions } from './versions.js';

/**
 * A failure artifact is a directory a person (or `embecode-stress replay DIR`) can pick up later:
 * the replay token, the minimal trace, the full history of the original failing run, the owner's
 * stderr, versions, and an HTML timeline.
 */

export const DEFAULT_ARTIFACTS_DIR = '.stress';
export const TOKEN_FILE = 'replay-token.txt';
/** Files `replay DIR` needs; the others are for people. */
const REQUIRED_FILES = [TOKEN_FILE, 'summary.json'] as const;

export interface FailureRecord {
  readonly strategy: string;
  readonly seed: number;
  readonly counterexample: Counterexample;
  /** Every step of the first failing run, before shrinking. */
  readonly original: readonly StepEvent[];
  /** Index of the step that failed each run, from its StepFailure. */
  readonly failingStep?: { readonly original?: number; readonly minimal?: number };
  /** The minimal failing run. */
  readonly minimal: readonly StepEvent[];
  readonly ownerStderr: string;
  readonly versions: Versions;
  /** Every process of each run, so the timeline draws those that took no step too. */
  readonly originalActors?: readonly RunActor[];
  readonly minimalActors?: readonly RunActor[];
}

function stamp(date: Date): string {
  return date.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

function jsonLines(steps: readonly StepEvent[]): string {
  return steps.map((s) => JSON.stringify(s)).join('\n') + (steps.length > 0 ? '\n' : '');
}

/** Writes the artifact directory under `root` and returns its absolute path. */
export function writeFailureArtifact(root: string, record: FailureRecord): string {
  const dir = resolve(root, `${record.strategy}-seed${record.seed}-${stamp(new Date())}-${process.pid}`);
  makeDirectories(dir);
  const cx = record.counterexample;
  const summary = { strategy: record.strategy, seed: record.seed, counterexample: { ...cx, artifact: dir } };
  writeFileSync(join(dir, TOKEN_FILE), `${cx.replay}\n`);
  writeFileSync(join(dir, 'summary.json'), `${JSON.stringify(summary, null, 2)}\n`);
  writeFileSync(
    join(dir, 'trace.txt'),
    `${formatSteps(cx.steps)}\nerror (${cx.kind}): ${errorLine(cx)}\n${cx.details === undefined ? '' : `${cx.details}\n`}${judgement(
      cx,
    )
      .map((line) => `${line}\n`)
      .join('')}replay with: ${cx.replayCommand}\n`,
  );
  writeFileSync(join(dir, 'history.jsonl'), jsonLines(record.original));
  writeFileSync(join(dir, 'minimal-history.jsonl'), jsonLines(record.minimal));
  writeFileSync(join(dir, 'owner-stderr.txt'), record.ownerStderr);
  writeFileSync(join(dir, 'versions.json'), `${JSON.stringify(record.versions, null, 2)}\n`);
  writeFileSync(
    join(dir, 'timeline.html'),
    timelineHtml(
      `embecode-stress: ${record.strategy}, seed ${record.seed}: ${cx.kind}`,
      `${cx.error}${cx.details === undefined ? '' : `\n${cx.details}`}`,
      [
        {
          title: 'Minimal failing run',
          steps: record.minimal,
          ...failingOf(record.failingStep?.minimal),
          ...(record.minimalActors === undefined ? {} : { actors: record.minimalActors }),
        },
        {
          title: 'Original failing run',
          steps: record.original,
          ...failingOf(record.failingStep?.original),
          ...(record.originalActors === undefined ? {} : { actors: record.originalActors }),
        },
      ],
      record.strategy,
    ),
  );
  return dir;
}

function failingOf(index: number | undefined): { failing?: number } {
  return index === undefined ? {} : { failing: index };
}

/** Whether `path` looks like a failure artifact directory. */
export function isArtifactDir(path: string): boolean {
  return existsSync(join(path, TOKEN_FILE));
}

/** The replay token of an artifact directory; a directory missing its files is a usage error. */
export function readArtifactToken(dir: string): string {
  const missing = REQUIRED_FILES.filter((f) => !existsSync(join(dir, f)));
  if (missing.length > 0) {
    throw usageError(
      `${dir} is not a complete failure artifact (missing ${missing.join(', ')}); pass a replay token instead`,
    );
  }
  return readFileSync(join(dir, TOKEN_FILE), 'utf8').trim();
}
