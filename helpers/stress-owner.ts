/**
 * The owner process the stress tester drives: `node dist/helpers/stress-owner.js --strategy NAME`.
 * Speaks the JSON-lines protocol of src/child-protocol/messages.ts on stdin/stdout. Exits 0 when stdin
 * closes or on `shutdown`, after closing the index (and its lock).
 */
import { OwnerService } from '../src/child-protocol/owner-service.js';
import { runProtocolChild } from '../src/child-protocol/server.js';

runProtocolChild(
  'stress-owner',
  'embecode-owner',
  (strategy, embedder) => new OwnerService(strategy, embedder),
);
