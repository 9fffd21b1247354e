import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * The lock waits of one request a child answers: how many times a strategy's retry loop met a
 * lock conflict and tried again, and how long its longest wait for the lock was. A strategy notes
 * them where it retries; the child's protocol layer (child-protocol/messages.ts `answer`) scopes them to
 * the request and sends them back with the reply, so the tester can count conflicts retried on
 * each side without reading the strategy's files.
 */
export interface LockWaits {
  /** Failed lock attempts that were retried ("Conflicting lock", then backoff). */
  conflicts: number;
  /** The longest time one operation of the request waited for the lock (ms). */
  longestWaitMs: number;
}

const scope = new AsyncLocalStorage<LockWaits>();

/** Runs `work` with a fresh tally; the tally is filled in while the work (and what it awaits) runs. */
export function tallyLockWaits<T>(waits: LockWaits, work: () => Promise<T>): Promise<T> {
  return scope.run(waits, work);
}

export function noLockWaits(): LockWaits {
  return { conflicts: 0, longestWaitMs: 0 };
}

/** A lock conflict the caller is about to retry. No-op outside a tallied request. */
export function noteLockConflict(): void {
  const waits = scope.getStore();
  if (waits !== undefined) waits.conflicts++;
}

/** An operation that had to wait `ms` for the lock (conflicts, or deferring to the other side). */
export function noteLockWait(ms: number): void {
  const waits = scope.getStore();
  if (waits !== undefined) waits.longestWaitMs = Math.max(waits.longestWaitMs, ms);
}
