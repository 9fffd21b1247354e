/**
 * The owner process the stress tester drives: `node dist/helpers/stress-owner.js --strategy NAME`.
 * Reads one JSON request per line on stdin and answers one JSON reply per line on stdout, in
 * order. Exits 0 when stdin closes or on `shutdown`, after closing the index (and its lock).
 */
import { createInterface } from 'node:readline';
import { messageOf } from '../src/index/duckdb-errors.js';
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { decodeRequest, salvageId } from '../src/owner/line-codec.js';
import { OwnerService } from '../src/owner/owner-service.js';
import {
  OWNER_PROTOCOL_VERSION,
  type OwnerHello,
  type OwnerReply,
  type OwnerRequest,
} from '../src/owner/protocol.js';
import { getStrategy } from '../src/strategies/registry.js';

function strategyArg(argv: readonly string[]): string {
  const at = argv.indexOf('--strategy');
  const name = at >= 0 ? argv[at + 1] : undefined;
  if (name === undefined) throw new Error('usage: stress-owner --strategy NAME');
  return name;
}

function send(message: OwnerReply | OwnerHello): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

async function main(): Promise<void> {
  const strategy = getStrategy(strategyArg(process.argv.slice(2)));
  const service = new OwnerService(strategy, createDefaultEmbedder());
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  send({
    hello: 'embecode-owner',
    protocol: OWNER_PROTOCOL_VERSION,
    pid: process.pid,
    strategy: strategy.name,
  });
  // Requests are handled strictly one after another: the tester's notion of "acknowledged"
  // depends on replies leaving in the order the work was done.
  for await (const line of lines) {
    if (line.trim() === '') continue;
    let request: OwnerRequest;
    try {
      request = decodeRequest(line);
    } catch (error) {
      send({ id: salvageId(line), ok: false, error: messageOf(error), kind: 'protocol', ms: 0 });
      continue;
    }
    send(await service.handle(request));
    if (request.op === 'shutdown') break;
  }
  await service.close();
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`stress-owner ${process.pid}: ${messageOf(error)}\n`);
    process.exit(2);
  },
);
