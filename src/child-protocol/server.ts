import { createInterface } from 'node:readline';
import { messageOf } from '../index/duckdb-errors.js';
import { createDefaultEmbedder, type Embedder } from '../index/embedder.js';
import { getStrategy } from '../strategies/registry.js';
import type { Strategy } from '../strategies/strategy.js';
import { decodeRequest, salvageId } from './codec.js';
import { dispatch, type OpTable, opsOf } from './dispatch.js';
import { type Hello, PROTOCOL_VERSION, type Reply, type Request } from './messages.js';

function send(message: Reply | Hello): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

/**
 * The child side of the JSON-lines protocol: says hello, then answers each stdin line with one
 * stdout line. By default strictly one request after another (the owner: the tester's notion of
 * "acknowledged" needs replies in the order the work was done); with `concurrent`, requests run
 * side by side and each reply goes out when its work is done (a reader process serving several
 * searches at once, as one that answers many clients does). Returns when stdin closes or after
 * `shutdown`, once every request has been answered.
 */
export async function serveLines(
  hello: Hello,
  ops: ReadonlySet<string>,
  handle: (request: Request) => Promise<Reply>,
  concurrent = false,
): Promise<void> {
  const inFlight = new Set<Promise<void>>();
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  send(hello);
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let request: Request;
    try {
      request = decodeRequest(line, ops);
    } catch (error) {
      send({ id: salvageId(line), ok: false, error: messageOf(error), kind: 'protocol', ms: 0 });
      continue;
    }
    if (concurrent && request.op !== 'shutdown') {
      const work = handle(request).then(send);
      inFlight.add(work);
      void work.finally(() => inFlight.delete(work));
      continue;
    }
    await Promise.all(inFlight);
    send(await handle(request));
    if (request.op === 'shutdown') break;
  }
  await Promise.all(inFlight);
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

/** What a protocol child serves: its op table (one handler per op) and one clean-up at the end. */
export interface LineService {
  readonly ops: OpTable;
  close(): Promise<void>;
}

/**
 * The whole main of a protocol child (`helpers/stress-owner.ts`, `helpers/stress-reader.ts`):
 * reads `--strategy NAME`, builds the service, says hello, serves until stdin closes, cleans up.
 */
export function runProtocolChild(
  name: string,
  hello: string,
  createService: (strategy: Strategy, embedder: Embedder) => LineService,
  concurrent = false,
): void {
  runHelper(name, async () => {
    const strategy = getStrategy(strategyArg(process.argv.slice(2), name));
    const service = createService(strategy, createDefaultEmbedder());
    try {
      await serveLines(
        { hello, protocol: PROTOCOL_VERSION, pid: process.pid, strategy: strategy.name },
        opsOf(service.ops),
        (request) => dispatch(service.ops, request),
        concurrent,
      );
    } finally {
      await service.close();
    }
  });
}
