import { basename } from 'node:path';
import { CommanderError } from 'commander';
import { EmbecodeError } from '../errors.js';

/**
 * Exit codes shared by the CLIs:
 * - 0: done (for `embecode-stress`: the contract held);
 * - 1: an unexpected internal error (for `embecode-stress`, main also returns 1 for a counterexample);
 * - 2: usage or set-up error (bad arguments, missing directory, missing/corrupt/locked index), reported
 *   as exactly one line on stderr: `<prog>: <what went wrong and what to do>`.
 */
export const EXIT_OK = 0;
export const EXIT_FAILURE = 1;
export const EXIT_USAGE = 2;

/** Collapses a message to one line, so that stderr carries exactly one line per error. */
export function oneLine(message: string): string {
  return message.replace(/\s*\n\s*/g, ' ').trim();
}

/** The exit code and the one line to print for an error that reached the top of a CLI. */
export function describeError(error: unknown): { code: number; message: string } {
  if (error instanceof EmbecodeError) {
    return { code: error.kind === 'internal' ? EXIT_FAILURE : EXIT_USAGE, message: oneLine(error.message) };
  }
  if (error instanceof CommanderError) {
    // Commander's own text starts with "error: ".
    return { code: EXIT_USAGE, message: oneLine(error.message.replace(/^error:\s*/, '')) };
  }
  const message = error instanceof Error ? error.message : String(error);
  return { code: EXIT_FAILURE, message: `internal error: ${oneLine(message)}` };
}

/** The program name for messages: `embecode` for `.../dist/src/cli/embecode.js`. */
export function programName(argv1: string | undefined = process.argv[1]): string {
  return argv1 === undefined ? 'embecode' : basename(argv1).replace(/\.(c|m)?(j|t)s$/, '');
}

/**
 * Runs a CLI's main and turns its outcome into an exit code: main's own result, 2 with one line
 * `<prog>: message` for an EmbecodeError (other than kind `internal`) or a commander usage error,
 * 1 with one line for anything else (the stack too when EMBECODE_DEBUG is set).
 *
 * Sets `process.exitCode` rather than calling `process.exit()`, so pending output is flushed; main
 * must close what it opened (DuckDB handles, children) or the process will not end.
 */
export async function runCli(main: () => Promise<number>, prog: string = programName()): Promise<number> {
  let code: number;
  try {
    code = await main();
  } catch (error) {
    const described = describeError(error);
    process.stderr.write(`${prog}: ${described.message}\n`);
    if (process.env.EMBECODE_DEBUG && error instanceof Error && error.stack) {
      process.stderr.write(`${error.stack}\n`);
    }
    code = described.code;
  }
  process.exitCode = code;
  return code;
}
