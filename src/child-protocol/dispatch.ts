import { EmbecodeError } from '../errors.js';
import { answer, type Reply, type Request } from './messages.js';

/** What a child does for one op, given the request's arguments (`{}` when it sent none). */
export type OpHandler = (args: Record<string, unknown>) => Promise<unknown>;

/**
 * A child's ops, each with its handler. The one way both children dispatch: a service lists its
 * ops once, here, and the set the codec accepts is read off the same table, so the two cannot
 * drift apart.
 */
export type OpTable<Op extends string = string> = Readonly<Record<Op, OpHandler>>;

/** The op names a table answers, for decodeRequest. */
export function opsOf(table: OpTable): ReadonlySet<string> {
  return new Set(Object.keys(table));
}

/** Runs `request` through its op's handler and turns the outcome into a reply; never throws. */
export function dispatch(table: OpTable, request: Request): Promise<Reply> {
  return answer(request, () => {
    const handler = Object.hasOwn(table, request.op) ? table[request.op] : undefined;
    if (handler === undefined) throw new EmbecodeError('protocol', `unknown op '${request.op}'`);
    return handler(request.args ?? {});
  });
}
