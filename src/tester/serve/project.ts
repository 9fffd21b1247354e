import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { FILE_PATHS } from '../model.js';

/**
 * The project tree a serve run indexes: the strategy target's file slots (src/tester/model.ts), as
 * real files on disk that the tester adds, changes and deletes between steps. Every file version
 * is kept, with when it appeared on disk (the tester's clock), so a checker can say which versions
 * a search may see. A change is a write to a scratch file outside the tree and a rename into it, so
 * a catch-up walking the tree reads a file whole, old or new, never half of one.
 */

/** One version of one path: its content, or deleted. */
export interface FileVersion {
  readonly path: string;
  /** undefined: the file was deleted. */
  readonly content: string | undefined;
  /** The token planted in it (absent for a deletion). */
  readonly token?: string;
  /** On the tester's clock: the change started (the file may be on disk from here)... */
  readonly start: number;
  /** ...and was on disk for sure from here. */
  readonly end: number;
}

export class ProjectTree {
  /** Per path, every version, oldest first; the first is "absent" at time 0. */
  private readonly versions = new Map<string, FileVersion[]>();
  private scratch = 0;

  constructor(
    readonly dir: string,
    /** Outside `dir`, on the same file system: where a change is written before its rename. */
    private readonly scratchDir: string,
  ) {
    mkdirSync(dir, { recursive: true });
    mkdirSync(scratchDir, { recursive: true });
    for (const path of FILE_PATHS) {
      this.versions.set(path, [{ path, content: undefined, start: 0, end: 0 }]);
    }
  }

  get paths(): readonly string[] {
    return FILE_PATHS;
  }

  history(path: string): readonly FileVersion[] {
    return this.versions.get(path) ?? [];
  }

  /** The version on disk now. */
  current(path: string): FileVersion {
    return this.history(path).at(-1) as FileVersion;
  }

  write(path: string, content: string, token: string, now: () => number): FileVersion {
    const start = now();
    const scratch = join(this.scratchDir, `change-${++this.scratch}`);
    writeFileSync(scratch, content);
    const target = join(this.dir, path);
    mkdirSync(dirname(target), { recursive: true });
    renameSync(scratch, target);
    return this.add({ path, content, token, start, end: now() });
  }

  delete(path: string, now: () => number): FileVersion {
    const start = now();
    rmSync(join(this.dir, path), { force: true });
    return this.add({ path, content: undefined, start, end: now() });
  }

  private add(version: FileVersion): FileVersion {
    this.versions.get(version.path)?.push(version);
    return version;
  }
}
