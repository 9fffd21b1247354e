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
 * socket and the owner answers from its own connection); the other strategies are built for the
 * stress tester and would each need their own transport here (`handoff`: readers open the file
 * between the owner's writes; `snapshot`: readers open the newest published copy).
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
 * The serve transport for strategy `name`. An unknown name is a usage error listing the known
 * strategies; a known strategy that serve cannot use yet is a usage error saying which can.
 */
export function serveTransport(name: string): ServeTransport {
  const strategy = getStrategy(name);
  const found = transports.find((t) => t.name === strategy.name);
  if (found === undefined) {
    throw new EmbecodeError(
      'usage',
      `embecode serve does not support strategy '${name}' yet; use ${transports.map((t) => `'${t.name}'`).join(' or ')}`,
    );
  }
  return found;
}
