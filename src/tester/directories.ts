import { existsSync, mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';

/**
 * `mkdir -p`, one level at a time. Node's own `mkdirSync(path, { recursive: true })` never returns
 * for a path under /proc (seen on Node 20.20: it spins on the ENOENT), which would hang a check
 * given `--history /proc/x` instead of failing it with a message.
 */
export function makeDirectories(path: string): void {
  const missing: string[] = [];
  for (let p = resolve(path); !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const dir of missing) mkdirSync(dir);
}
