/**
 * Every kind of failure embecode names, in one vocabulary: DuckDB's classified errors, the
 * EmbecodeError a person sees, the kind a child-protocol reply carries, the IPC protocol's error
 * body, and the kind a tester history step records. One name per thing: a lock conflict is
 * `locked` everywhere, from DuckDB's message to the tester's summary.
 */
export type ErrorKind =
  | 'usage'
  /** Another process holds the file's OS lock (`fcntl`), read-write or read-only. */
  | 'locked'
  /** The file exists but is not a DuckDB database, or its blocks fail their checksums. */
  | 'corrupt'
  /** A READ_ONLY open of a file that does not exist. */
  | 'missing'
  /** Any other I/O failure: missing directory, permissions, disk. */
  | 'io'
  | 'protocol'
  | 'internal'
  /** A step passed its deadline: the other side may still be working on it. */
  | 'hang'
  /** The process that was asked died before it answered. */
  | 'died'
  /** Nobody can answer right now (an owner going or gone): try again. */
  | 'unavailable'
  /** DuckDB refused a row (a constraint). */
  | 'constraint'
  /** The SQL does not fit the schema: a missing table usually means "not an embecode index". */
  | 'catalog'
  /** A DuckDB error none of the above describes. */
  | 'other';
