import { EmbecodeError } from '../errors.js';
import type { SearchOptions, SearchResult } from '../index/types.js';
import { IpcClient } from '../ipc/client.js';
import type { IpcCatchUp, IpcStatus } from '../ipc/messages.js';
import { type IpcHandlers, IpcServer } from '../ipc/server.js';
import { getStrategy } from '../strategies/registry.js';
import { ownerSocketPath } from './paths.js';

/**
 * How a serve process that is not the owner reaches the owner's searches: the serve side of an
 * access strategy. Only `ipc` is implemented (readers forward each search over the owner's Unix
 * socket and the owner answers from its own connection); why the others are refused: REFUSED below.
 */
export interface ServeTransport {
  readonly name: string;
  /** As owner: makes `handlers` reachable by readers and clients. */
  serveOwner(stateDir: string, handlers: IpcHandlers): Promise<OwnerEndpoint>;
  /** As reader: a link to whoever owns the project now; it reconnects by itself after a takeover. */
  linkToOwner(stateDir: string): OwnerLink;
}

export interface OwnerEndpoint {
  /** What the owner publishes in `owner.json` (`info`) so others can find it. */
  readonly published: Readonly<Record<string, unknown>>;
  /** Stops serving: requests in flight finish (within a grace period), then connections close. */
  close(): Promise<void>;
}

export interface OwnerLink {
  /** Rejects with IpcUnavailableError (retryable) while nobody serves. */
  search(query: string, options: SearchOptions, timeoutMs?: number): Promise<SearchResult[]>;
  status(timeoutMs?: number): Promise<IpcStatus>;
  /** Asks the owner to catch up now (see IpcClient.catchUp). */
  catchUp(timeoutMs?: number): Promise<IpcCatchUp>;
  /** The PID of the owner this link last reached. */
  readonly ownerPid: number | undefined;
  close(): Promise<void>;
}

/** How long the owner's server lets requests in flight finish when it stops. */
const CLOSE_GRACE_MS = 2_000;

export const ipcTransport: ServeTransport = {
  name: 'ipc',
  async serveOwner(stateDir, handlers) {
    const socket = ownerSocketPath(stateDir);
    const server = await IpcServer.listen(socket, handlers, { closeGraceMs: CLOSE_GRACE_MS });
    return { published: { socket }, close: () => server.close() };
  },
  linkToOwner(stateDir) {
    const client = new IpcClient(ownerSocketPath(stateDir), { connectTimeoutMs: 1_000 });
    return {
      search: (query, options, timeoutMs) => client.search(query, options, timeoutMs),
      status: (timeoutMs) => client.status(timeoutMs),
      catchUp: (timeoutMs) => client.catchUp(timeoutMs),
      get ownerPid() {
        return client.serverPid;
      },
      close: () => client.close(),
    };
  },
};

const transports: readonly ServeTransport[] = [ipcTransport];

/**
 * Why serve refuses the other strategies (FINDINGS.md, "embecode serve and the strategies"):
 * - handoff: serve promises that the process holding the election lock holds the index, from
 *   outside (/proc/locks) and at every instant; a handoff owner holds the index only inside a write
 *   and lets anyone in between (tests/serve/serve-strategies.int.test.ts shows an outsider getting
 *   in read-write between two writes). Not a gap to fill: it is what handoff is.
 * - snapshot: would fit (the owner keeps the index, readers open published copies), but is not
 *   built: the serve owner indexes through its own connection and has no publish step, and a
 *   publish must copy through the descriptor DuckDB's lock is on (src/strategies/snapshot.ts).
 */
const REFUSED: Readonly<Record<string, string>> = {
  handoff:
    'its owner holds the index only while it writes, so between writes any process could open the index read-write, and serve promises that the election lock holder alone holds the index at every instant',
  snapshot:
    'the serve owner has no snapshot publish step yet (it indexes through its own connection, and a publish must copy through the descriptor that holds the lock)',
};

/**
 * The serve transport for strategy `name`. An unknown name is a usage error listing the known
 * strategies; a known strategy that serve does not use is a usage error saying why and which can.
 */
export function serveTransport(name: string): ServeTransport {
  const strategy = getStrategy(name);
  const found = transports.find((t) => t.name === strategy.name);
  if (found === undefined) {
    const why = REFUSED[strategy.name];
    throw new EmbecodeError(
      'usage',
      `embecode serve does not support strategy '${name}'${why === undefined ? ' yet' : `: ${why}`}; use ${transports.map((t) => `'${t.name}'`).join(' or ')}`,
    );
  }
  return found;
}
