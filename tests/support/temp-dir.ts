import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Temp directories made by one test file, removed together in its afterEach/afterAll so none
 * outlives a run, a failure or a timeout.
 */
const made = new Set<string>();

export async function makeTempDir(prefix = 'embecode-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  made.add(dir);
  return dir;
}

/** Removes every directory `makeTempDir` made (and not yet removed). */
export async function removeTempDirs(): Promise<void> {
  const dirs = [...made];
  made.clear();
  await Promise.all(dirs.map((dir) => rm(dir, { recursive: true, force: true })));
}

export function liveTempDirCount(): number {
  return made.size;
}
