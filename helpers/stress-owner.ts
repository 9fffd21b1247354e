/**
 * The owner process the stress tester drives: `node dist/helpers/stress-owner.js --strategy NAME`.
 * Speaks the JSON-lines protocol of src/owner/protocol.ts on stdin/stdout. Exits 0 when stdin
 * closes or on `shutdown`, after closing the index (and its lock).
 */
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { OWNER_OPS } from '../src/owner/line-codec.js';
import { OwnerService } from '../src/owner/owner-service.js';
import { OWNER_PROTOCOL_VERSION } from '../src/owner/protocol.js';
import { runHelper, serveLines, strategyArg } from '../src/process/line-server.js';
import { getStrategy } from '../src/strategies/registry.js';

runHelper('stress-owner', async () => {
  const strategy = getStrategy(strategyArg(process.argv.slice(2), 'stress-owner'));
  const service = new OwnerService(strategy, createDefaultEmbedder());
  const hello = {
    hello: 'embecode-owner',
    protocol: OWNER_PROTOCOL_VERSION,
    pid: process.pid,
    strategy: strategy.name,
  };
  try {
    await serveLines(hello, OWNER_OPS, (request) => service.handle(request));
  } finally {
    await service.close();
  }
});
