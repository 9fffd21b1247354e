import { chmodSync, lstatSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { EmbecodeError } from '../errors.js';

/** Linux `sun_path` holds 108 bytes with the terminating NUL. */
export const MAX_SOCKET_PATH_BYTES = 107;

/** Where the owner of the index in `workDir` listens: `<workDir>/ipc/owner.sock`. */
export function ipcSocketPath(workDir: string): string {
  return join(workDir, 'ipc', 'owner.sock');
}

/** Refuses a socket path the kernel cannot bind, with the reason, before anything touches it. */
export function checkSocketPathLength(socketPath: string): void {
  const bytes = Buffer.byteLength(socketPath);
  if (bytes > MAX_SOCKET_PATH_BYTES) {
    throw new EmbecodeError(
      'usage',
      `socket path ${socketPath} is ${bytes} bytes, over the ${MAX_SOCKET_PATH_BYTES}-byte limit of Unix sockets; use a shorter index directory`,
    );
  }
}

function currentUid(): number | undefined {
  return typeof process.getuid === 'function' ? process.getuid() : undefined;
}

/**
 * Checks that `dir` is a private directory of this user: a real directory (not a symlink), owned by
 * us, with no permission bits for group or others. Throws EmbecodeError('io') saying what is wrong
 * and what to do. `missing` is returned instead of thrown when the directory does not exist.
 */
export function checkPrivateDir(dir: string): 'ok' | 'missing' {
  let stat: ReturnType<typeof lstatSync>;
  try {
    stat = lstatSync(dir);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return 'missing';
    throw new EmbecodeError('io', `cannot inspect socket directory ${dir}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  if (stat.isSymbolicLink()) {
    throw new EmbecodeError('io', `socket directory ${dir} is a symbolic link; refusing it (remove it)`);
  }
  if (!stat.isDirectory()) {
    throw new EmbecodeError('io', `socket directory ${dir} is not a directory; refusing it (remove it)`);
  }
  const uid = currentUid();
  if (uid !== undefined && stat.uid !== uid) {
    throw new EmbecodeError(
      'io',
      `socket directory ${dir} is owned by uid ${stat.uid}, not by this user (uid ${uid}); refusing to use it`,
    );
  }
  const mode = stat.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    throw new EmbecodeError(
      'io',
      `socket directory ${dir} has mode ${mode.toString(8).padStart(4, '0')}: group or others have access; refusing it (chmod 700 it, or remove it)`,
    );
  }
  return 'ok';
}

/**
 * Makes `dir` (mode 0700) if it does not exist, then checks it is private (see checkPrivateDir).
 * Parents are created with the default mode.
 */
export function preparePrivateDir(dir: string): void {
  if (checkPrivateDir(dir) === 'ok') return;
  try {
    mkdirSync(dirname(dir), { recursive: true });
    mkdirSync(dir, { mode: 0o700 });
    // The umask may have removed bits we need; it cannot have added any.
    chmodSync(dir, 0o700);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new EmbecodeError('io', `cannot create socket directory ${dir}: ${(error as Error).message}`, {
        cause: error,
      });
    }
  }
  checkPrivateDir(dir);
}
