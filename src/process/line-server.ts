import { createInterface } from 'node:readline';
import { messageOf } from '../index/duckdb-errors.js';
import { decodeRequest, salvageId } from '../owner/line-codec.js';
import type { OwnerHello, OwnerReply, OwnerRequest } from '../owner/protocol.js';

function send(message: OwnerReply | OwnerHello): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * The child side of the JSON-lines protocol: says hello, then answers each stdin line with one
 * stdout line, strictly one request after another (the tester's notion of "acknowledged" needs
 * replies in the order the work was done). Returns when stdin closes or after `shutdown`.
 */
export async function serveLines(
  hello: OwnerHello,
  ops: ReadonlySet<string>,
  handle: (request: OwnerRequest) => Promise<OwnerReply>,
): Promise<void> {
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  send(hello);
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let request: OwnerRequest;
    try {
      request = decodeRequest(line, ops);
    } catch (error) {
      send({ id: salvageId(line), ok: false, error: messageOf(error), kind: 'protocol', ms: 0 });
      continue;
    }
    send(await handle(request));
    if (request.op === 'shutdown') break;
  }
}

/** Runs a helper's main and exits: 0 when it returns, 2 with one stderr line when it throws. */
export function runHelper(name: string, main: () => Promise<void>): void {
  main().then(
    () => process.exit(0),
    (error: unknown) => {
      process.stderr.write(`${name} ${process.pid}: ${messageOf(error)}\n`);
      process.exit(2);
    },
  );
}

/** The value of `--strategy NAME` in argv. */
export function strategyArg(argv: readonly string[], helper: string): string {
  const at = argv.indexOf('--strategy');
  const name = at >= 0 ? argv[at + 1] : undefined;
  if (name === undefined) throw new Error(`usage: ${helper} --strategy NAME`);
  return name;
}
