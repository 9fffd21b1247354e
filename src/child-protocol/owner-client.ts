import { ProtocolClient } from './client.js';

/** A real owner child (helpers/stress-owner.js) driven over the owner protocol. */
export type OwnerClient = ProtocolClient;

export const OwnerClient = {
  /** Starts an owner child for `strategy` and waits for its hello line. */
  start: (strategy: string, timeoutMs?: number): Promise<OwnerClient> =>
    ProtocolClient.start('stress-owner', strategy, timeoutMs),
};
