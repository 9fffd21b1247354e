import { availableParallelism } from 'node:os';

/**
 * How many threads DuckDB runs one process's queries with.
 *
 * DuckDB splits a table scan into one task per row group, so a query over tables of at most one
 * row group runs on one thread whatever `threads` says; with more threads it still pays for
 * scheduling work onto them. Measured here (node, 2 cores, a BM25 ranking over 3,500 postings and
 * 1,200 chunks, 300 queries alternated): 5.9-6.9 ms of CPU and 5.0-6.1 ms wall per query with 2
 * threads, 4.0-4.7 ms and 4.0-4.9 ms with 1. Most indexes a process meets in tests and small
 * projects are that size, and a stress run spends most of its owner's time in such queries.
 *
 * So an instance starts on one thread, and gets every core once an index it serves has a table
 * past one row group (the owner writes row groups of ROW_GROUP_SIZE rows); it keeps them from then
 * on, so that a process never goes back and forth. A large index is searched and checkpointed in
 * parallel as before; the tie rules of every ranking still decide between equal scores, whatever
 * order a parallel sum takes.
 */
export const SMALL_INDEX_THREADS = 1;

/** Every core this process may use (what DuckDB would take by default). */
export function allThreads(): number {
  return availableParallelism();
}

/** The statement that gives the instance every core; `threads` is an instance-wide setting. */
export function allThreadsSql(): string {
  return `SET threads = ${allThreads()}`;
}

/**
 * `run` (which gives an instance every core) made idempotent: the first call runs it and every
 * later one shares its promise; a failure is forgotten, so that the next call tries again.
 */
export function once(run: () => Promise<unknown>): () => Promise<void> {
  let done: Promise<void> | undefined;
  return () => {
    done ??= run().then(
      () => undefined,
      (error: unknown) => {
        done = undefined;
        throw error;
      },
    );
    return done;
  };
}

/** Whether a table of `rows` rows spans more than one row group of `rowGroupSize`. */
export function spansRowGroups(rows: number, rowGroupSize: number): boolean {
  return rows > rowGroupSize;
}
