/**
 * A reader process the stress tester drives when faults are on (so it can be SIGKILLed):
 * `node dist/helpers/stress-reader.js --strategy NAME`, JSON lines on stdin/stdout.
 */

import { ReaderService } from '../src/child-protocol/reader.js';
import { runProtocolChild } from '../src/child-protocol/server.js';

runProtocolChild(
  'stress-reader',
  'embecode-reader',
  (strategy, embedder) => new ReaderService(strategy, embedder),
  // Searches of one batch run at once in the same reader process, as in a real reader.
  true,
);
