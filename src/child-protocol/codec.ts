import { EmbecodeError } from '../errors.js';
import type { Request } from './messages.js';

/** A piece of a request as an error message shows it: one line, at most 80 characters, never throwing. */
function shown(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? String(value));
  return oneLine(text.slice(0, 80));
}

/** Escapes control characters (newlines above all) as JSON would, leaving everything else as is. */
function oneLine(text: string): string {
  return text.replace(/[\p{Cc}\u2028\u2029]/gu, (c) => JSON.stringify(c).slice(1, -1));
}

/** Parses one request line; a bad line is an EmbecodeError('protocol') that names what is wrong. */
export function decodeRequest(line: string, ops: ReadonlySet<string>): Request {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    throw new EmbecodeError('protocol', `request is not JSON: ${shown(line)}`);
  }
  if (typeof value !== 'object' || value === null)
    throw new EmbecodeError('protocol', 'request must be an object');
  const record = value as Record<string, unknown>;
  if (typeof record.id !== 'number' || !Number.isInteger(record.id)) {
    throw new EmbecodeError('protocol', 'request needs an integer id');
  }
  if (typeof record.op !== 'string' || !ops.has(record.op)) {
    throw new EmbecodeError('protocol', `unknown op '${shown(record.op)}'`);
  }
  const args = record.args;
  if (args !== undefined && (typeof args !== 'object' || args === null || Array.isArray(args))) {
    throw new EmbecodeError('protocol', 'args must be an object');
  }
  return {
    id: record.id,
    op: record.op,
    ...(args === undefined ? {} : { args: args as Record<string, unknown> }),
  };
}

/** The id of a line that failed to decode, when it has one, so the reply still reaches its caller. */
export function salvageId(line: string): number {
  const match = /"id"\s*:\s*(-?\d+)/.exec(line);
  return match?.[1] === undefined ? -1 : Number(match[1]);
}
