import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Polls `condition` every `everyMs` until it holds: true as soon as it does, false once `ms`
 * have passed without it. For a wait whose caller asserts on the answer.
 */
export async function holdsWithin(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  everyMs = 10,
): Promise<boolean> {
  const deadline = performance.now() + ms;
  while (!(await condition())) {
    if (performance.now() > deadline) return false;
    await sleep(everyMs);
  }
  return true;
}

/** As holdsWithin, but fails saying what it waited for: `describe()` is read once it timed out. */
export async function waitUntil(
  condition: () => boolean | Promise<boolean>,
  ms: number,
  describe: () => string,
  everyMs = 10,
): Promise<void> {
  if (!(await holdsWithin(condition, ms, everyMs))) throw new Error(`${describe()} (waited ${ms} ms)`);
}
