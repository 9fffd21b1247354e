import { join } from 'node:path';
import { stateDirForIndex } from '../election/state-dir.js';

/**
 * Where a project's serve processes meet, all inside the index's private state directory
 * (`<index>.state/`, 0700, see src/election/state-dir.ts):
 *
 * - `owner.lock.db`, `owner.json`: the election lock and the owner's record (src/election).
 * - `owner.sock`: the owner's socket. A fixed name, so that clients need not trust `owner.json` to
 *   find it; only the process holding the election lease binds it (and only it may unlink a stale
 *   one).
 * - `serve/<pid>.sock`: each serve process's own socket, owner or reader. A tool that started a
 *   serve process talks to that one; a reader forwards searches to the owner.
 */

export const OWNER_SOCKET = 'owner.sock';
export const SERVE_SOCKET_DIR = 'serve';

export function projectStateDir(dbPath: string): string {
  return stateDirForIndex(dbPath);
}

export function ownerSocketPath(stateDir: string): string {
  return join(stateDir, OWNER_SOCKET);
}

export function serveSocketDir(stateDir: string): string {
  return join(stateDir, SERVE_SOCKET_DIR);
}

export function serveSocketPath(stateDir: string, pid: number = process.pid): string {
  return join(serveSocketDir(stateDir), `${pid}.sock`);
}

const SERVE_SOCKET_NAME = /^([1-9][0-9]{0,9})\.sock$/;

/** The PID in a `serve/<pid>.sock` file name, or undefined for any other name. */
export function pidOfServeSocket(name: string): number | undefined {
  const digits = SERVE_SOCKET_NAME.exec(name)?.[1];
  return digits === undefined ? undefined : Number(digits);
}
