/**
 * DuckDB rejects with a plain `Error` that has no code: the message is all there is. This module is
 * the one place that reads those messages, so that when DuckDB rewords one, one regex changes.
 */

export type DuckDBErrorKind =
  /** Another process holds the file's OS lock (`fcntl`), read-write or read-only. */
  | 'lock-conflict'
  /** The file exists but is not a DuckDB database, or its blocks fail their checksums. */
  | 'corrupt'
  /** A READ_ONLY open of a file that does not exist. */
  | 'missing'
  /** Any other I/O failure: missing directory, permissions, disk. */
  | 'io'
  | 'constraint'
  /** The SQL does not fit the schema: a missing table usually means "not an embecode index". */
  | 'catalog'
  | 'other';

export interface ClassifiedDuckDBError {
  readonly kind: DuckDBErrorKind;
  readonly message: string;
  /** For `lock-conflict`: the PID DuckDB names as the holder, when it names one. */
  readonly holderPid?: number;
  /**
   * For `corrupt`: `not-a-database` when the file is not DuckDB's at all (someone else's file),
   * `damaged` when it is a DuckDB file whose blocks fail their checksums (partial corruption).
   */
  readonly damage?: 'not-a-database' | 'damaged';
}

const LOCK_CONFLICT = /Could not set lock on file .*Conflicting lock is held in .*?\(PID (\d+)\)/s;
const LOCK_CONFLICT_NO_PID = /Could not set lock on file|Conflicting lock is held/;
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
  if (lock?.[1] !== undefined) return { kind: 'lock-conflict', message, holderPid: Number(lock[1]) };
  if (LOCK_CONFLICT_NO_PID.test(message)) return { kind: 'lock-conflict', message };
  if (NOT_A_DATABASE.test(message)) return { kind: 'corrupt', message, damage: 'not-a-database' };
  if (DAMAGED.test(message)) return { kind: 'corrupt', message, damage: 'damaged' };
  if (MISSING.test(message)) return { kind: 'missing', message };
  if (CONSTRAINT.test(message)) return { kind: 'constraint', message };
  if (CATALOG.test(message)) return { kind: 'catalog', message };
  if (IO.test(message)) return { kind: 'io', message };
  return { kind: 'other', message };
}

export function isLockConflict(error: unknown): boolean {
  return classifyDuckDBError(error).kind === 'lock-conflict';
}
