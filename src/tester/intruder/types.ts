/**
 * The intruder's side of the JSON-lines protocol (src/child-protocol/messages.ts). Kept free of runtime
 * imports from the rest of embecode: helpers/stress-intruder.ts stands for a program that is not
 * embecode, so nothing of embecode's may run inside it, only these shapes.
 */

/**
 * Must equal PROTOCOL_VERSION: ProtocolClient refuses a hello with any other number.
 * intruder-client.ts checks the two agree when it compiles.
 */
export const INTRUDER_PROTOCOL_VERSION = 1;

/** The `hello` field of the intruder's first line. */
export const INTRUDER_HELLO = 'foreign-intruder';

export const INTRUDER_OPS = ['probe'] as const;
export type IntruderOp = (typeof INTRUDER_OPS)[number];

export type IntruderAccess = 'READ_WRITE' | 'READ_ONLY';

export interface ProbeArgs {
  /** The DuckDB file to open; the probe never creates it. */
  readonly path: string;
  readonly access: IntruderAccess;
  /**
   * With READ_WRITE: once in, create table `intruder_probe`, insert a row and CHECKPOINT, to show
   * the file was really writable (and not only openable). Ignored with READ_ONLY.
   */
  readonly prove?: boolean;
  /**
   * Once in, keep the file open this long (ms) before closing, as an outsider busy with it would:
   * whoever opens the file meanwhile meets a held lock. At most MAX_PROBE_HOLD_MS; default 0.
   */
  readonly holdMs?: number;
}

/** The longest a probe keeps a file it got into. */
export const MAX_PROBE_HOLD_MS = 1000;

/** DuckDB (or the file system) kept the intruder out; `error` is DuckDB's text, or `missing`. */
export interface ProbeRefused {
  readonly gotIn: false;
  readonly error: string;
}

/** The intruder opened the file; `did` lists, in order, what it then did (ending with `closed`). */
export interface ProbeGotIn {
  readonly gotIn: true;
  readonly did: readonly string[];
}

export type ProbeResult = ProbeRefused | ProbeGotIn;

/** How long each step of a probe may take before the intruder gives up and exits. */
export const PROBE_STEP_DEADLINE_MS = 10_000;
