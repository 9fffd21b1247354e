/**
 * A reader process the stress tester drives when faults are on (so it can be SIGKILLed):
 * `node dist/helpers/stress-reader.js --strategy NAME`, JSON lines on stdin/stdout.
 */
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { OWNER_PROTOCOL_VERSION } from '../src/owner/protocol.js';
import { runHelper, serveLines, strategyArg } from '../src/process/line-server.js';
import { getStrategy } from '../src/strategies/registry.js';
import { READER_OPS, ReaderService } from '../src/tester/remote-reader.js';

runHelper('stress-reader', async () => {
  const strategy = getStrategy(strategyArg(process.argv.slice(2), 'stress-reader'));
  const service = new ReaderService(strategy, createDefaultEmbedder());
  const hello = {
    hello: 'embecode-reader',
    protocol: OWNER_PROTOCOL_VERSION,
    pid: process.pid,
    strategy: strategy.name,
  };
  try {
    await serveLines(hello, READER_OPS, (request) => service.handle(request));
  } finally {
    await service.close();
  }
});
