/**
 * The owner process the stress tester drives: `node dist/helpers/stress-owner.js --strategy NAME`.
 * Speaks the JSON-lines protocol of src/owner/protocol.ts on stdin/stdout. Exits 0 when stdin
 * closes or on `shutdown`, after closing the index (and its lock).
 */
import { OWNER_OP_SET } from '../src/owner/line-codec.js';
import { OwnerService } from '../src/owner/owner-service.js';
import { runProtocolChild } from '../src/process/line-server.js';

runProtocolChild(
  'stress-owner',
  'embecode-owner',
  OWNER_OP_SET,
  (strategy, embedder) => new OwnerService(strategy, embedder),
);
