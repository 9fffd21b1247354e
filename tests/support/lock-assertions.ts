import { expect } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { classifyDuckDBError } from '../../src/index/duckdb-errors.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** DuckDB 1.5's extra sentence when a READ_ONLY holder blocks a read-write open. */
export const READ_ONLY_HINT =
  'However, you would be able to open this database in read-only mode, e.g. by using the -readonly parameter in the CLI. ';

/**
 * The exact text DuckDB gives when `path` is locked by process `holderPid`. `hint` says whether the
 * read-only hint sentence is expected (only when the holder is READ_ONLY and the opener read-write).
 */
export function duckdbLockMessage(path: string, holderPid: number, hint: boolean): RegExp {
  return new RegExp(
    `^IO Error: Could not set lock on file "${escapeRegExp(path)}": Conflicting lock is held in \\S+ \\(PID ${holderPid}\\)\\. ` +
      `${hint ? escapeRegExp(READ_ONLY_HINT) : ''}See also https://duckdb\\.org/docs/stable/connect/concurrency$`,
  );
}

/** A raw @duckdb/node-api failure: a plain Error, no code, DuckDB's lock conflict text naming the holder. */
export function expectDuckDBLockConflict(
  error: unknown,
  path: string,
  holderPid: number,
  hint = false,
): void {
  expect(error).toBeInstanceOf(Error);
  expect(Object.keys(error as object)).toEqual([]);
  expect((error as Error).message).toMatch(duckdbLockMessage(path, holderPid, hint));
  expect(classifyDuckDBError(error)).toMatchObject({ kind: 'locked', holderPid });
}

/** An embecode open failure: EmbecodeError kind `locked`, DuckDB's text inside, the original as cause. */
export function expectEmbecodeLocked(error: unknown, holderPid: number): void {
  expect(error).toBeInstanceOf(EmbecodeError);
  const locked = error as EmbecodeError;
  expect(locked.kind).toBe('locked');
  expect(locked.message).toContain('Conflicting lock is held');
  expect(locked.message).toContain(`(PID ${holderPid})`);
  expect(classifyDuckDBError(locked.cause)).toMatchObject({ kind: 'locked', holderPid });
}

/**
 * The rejection of `promise`. If it resolves instead, `dispose` gets the value (an open that should
 * have failed must still be closed) and the test fails.
 */
export async function rejectionOf<T>(
  promise: Promise<T>,
  dispose?: (value: T) => void | Promise<void>,
): Promise<unknown> {
  let value: T;
  try {
    value = await promise;
  } catch (error) {
    return error;
  }
  await dispose?.(value);
  throw new Error('expected a rejection, but the promise resolved');
}
