import { usageError } from '../errors.js';
import { handoff } from './handoff.js';
import { ipc } from './ipc.js';
import { readonlyDirect } from './readonly-direct.js';
import { snapshot } from './snapshot.js';
import type { Strategy } from './strategy.js';

/** Every strategy the tester and the CLIs know, by name. A new strategy is one more entry. */
const strategies: readonly Strategy[] = [readonlyDirect, ipc, snapshot, handoff];

export function strategyNames(): string[] {
  return strategies.map((s) => s.name);
}

export function getStrategy(name: string): Strategy {
  const found = strategies.find((s) => s.name === name);
  if (found === undefined) {
    throw usageError(`unknown strategy '${name}'; choose one of: ${strategyNames().join(', ')}`);
  }
  return found;
}
