import type { ErrorKind } from '../error-kind.js';

/**
 * DuckDB rejects with a plain `Error` that has no code: the message is all there is. This module is
 * the one place that reads those messages, so that when DuckDB rewords one, one regex changes.
 */

/** The kinds a DuckDB message is classified as (see error-kind.ts for what each means). */
export type DuckDBErrorKind = Extract<
  ErrorKind,
  'locked' | 'corrupt' | 'missing' | 'io' | 'constraint' | 'catalog' | 'other'
>;

export interface ClassifiedDuckDBError {
  readonly kind: DuckDBErrorKind;
  readonly message: string;
  /** For `locked`: the PID DuckDB names as the holder, when it names one. */
  readonly holderPid?: number;
  /**
   * For `corrupt`: `not-a-database` when the file is not DuckDB's at all (someone else's file),
   * `damaged` when it is a DuckDB file whose blocks fail their checksums (partial corruption).
   */
  readonly damage?: 'not-a-database' | 'damaged';
}

const LOCK_CONFLICT = /Could not set lock on file .*Conflicting lock is held in .*?\(PID (\d+)\)/s;
const LOCK_CONFLICT_NO_PID = /Could not set lock on file|Conflicting lock is held/;
/** One instance refuses a second ATTACH of a file it has attached (shared-instance.ts): this process holds it. */
const ATTACHED_HERE = /Unique file handle conflict/;
const NOT_A_DATABASE = /not a valid DuckDB database file/;
const DAMAGED = /Corrupt database file|checksum .* does not match/;
const MISSING = /in read-only mode: database does not exist/;
const CONSTRAINT = /^Constraint Error/;
const CATALOG = /^Catalog Error|^Binder Error/;
const IO = /^IO Error/;

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function classifyDuckDBError(error: unknown): ClassifiedDuckDBError {
  const message = messageOf(error);
  const lock = LOCK_CONFLICT.exec(message);
  if (lock?.[1] !== undefined) return { kind: 'locked', message, holderPid: Number(lock[1]) };
  if (LOCK_CONFLICT_NO_PID.test(message)) return { kind: 'locked', message };
  if (ATTACHED_HERE.test(message)) return { kind: 'locked', message, holderPid: process.pid };
  if (NOT_A_DATABASE.test(message)) return { kind: 'corrupt', message, damage: 'not-a-database' };
  if (DAMAGED.test(message)) return { kind: 'corrupt', message, damage: 'damaged' };
  if (MISSING.test(message)) return { kind: 'missing', message };
  if (CONSTRAINT.test(message)) return { kind: 'constraint', message };
  if (CATALOG.test(message)) return { kind: 'catalog', message };
  if (IO.test(message)) return { kind: 'io', message };
  return { kind: 'other', message };
}

const INVALIDATED = /database has been invalidated/;

/**
 * Whether DuckDB refuses because an earlier fatal error invalidated the whole instance: nothing run
 * on it will work again, so the instance must be replaced (shared-instance.ts).
 */
export function isInstanceInvalidated(error: unknown): boolean {
  return INVALIDATED.test(messageOf(error));
}

export function isLockConflict(error: unknown): boolean {
  return classifyDuckDBError(error).kind === 'locked';
}
