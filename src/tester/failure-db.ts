import { existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isArtifactDir, TOKEN_FILE } from './artifacts.js';
import type { StressSummary } from './report.js';

/**
 * The failure database is the artifacts directory itself: every failure the tester kept is
 * replayed at the start of the property suite, the way Hypothesis replays its saved examples,
 * until it stops failing. Then it is marked, not deleted: its history stays for people.
 */

export const PASSED_MARKER = 'no-longer-fails.json';

export interface SavedFailure {
  readonly dir: string;
  readonly token: string;
  readonly strategy: string;
}

/** Saved failures under `root` that still failed the last time they ran, oldest first. */
export function savedFailures(root: string): SavedFailure[] {
  if (!existsSync(root)) return [];
  return readdirSync(root, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => join(root, entry.name))
    .filter((dir) => isArtifactDir(dir) && !existsSync(join(dir, PASSED_MARKER)))
    .sort((a, b) => statSync(a).mtimeMs - statSync(b).mtimeMs)
    .map((dir) => ({
      dir,
      token: readFileSync(join(dir, TOKEN_FILE), 'utf8').trim(),
      strategy: strategyOf(dir),
    }));
}

function strategyOf(dir: string): string {
  try {
    const summary = JSON.parse(readFileSync(join(dir, 'summary.json'), 'utf8')) as { strategy?: string };
    return summary.strategy ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Records that a saved failure's replays all passed, so it is not replayed again. */
export function markNoLongerFails(failure: SavedFailure, replay: StressSummary): void {
  writeFileSync(
    join(failure.dir, PASSED_MARKER),
    `${JSON.stringify({ at: new Date().toISOString(), reproduced: replay.reproduced ?? null }, null, 2)}\n`,
  );
}
