import { afterAll, afterEach, expect } from 'vitest';
import { liveChildCount } from '../../src/process/children.js';
import { liveTempDirCount, removeTempDirs } from './temp-dir.js';

/** Something a test started that must not outlive it. */
export interface Killable {
  kill(): Promise<unknown>;
}

/**
 * Registers the hooks of a file whose tests start children: each test's children are killed and
 * its temp dirs removed after it (also when it failed), and the file ends with neither left.
 * Returns the set a test adds its children to.
 */
export function trackChildren(): Set<Killable> {
  const children = new Set<Killable>();
  afterEach(async () => {
    await Promise.all([...children].map((c) => c.kill()));
    children.clear();
    await removeTempDirs();
  });
  afterAll(() => {
    expect(liveChildCount()).toBe(0);
    expect(liveTempDirCount()).toBe(0);
  });
  return children;
}
