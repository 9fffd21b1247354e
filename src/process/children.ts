import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa, type ResultPromise } from 'execa';
import { onTerminate } from './cleanup.js';

/**
 * Every child process the project starts goes through here, so one place can promise that none
 * outlives its parent: the registry kills them on exit, on SIGINT/SIGTERM, and when a caller
 * forgets. A leaked owner holds DuckDB's lock and poisons every later run on that file.
 */

const live = new Set<ResultPromise>();
let hooksInstalled = false;

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  onTerminate(killAllChildren);
}

/** SIGKILLs every child still running. Synchronous, so it works inside an 'exit' handler. */
export function killAllChildren(): void {
  for (const child of live) {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
  live.clear();
}

export function liveChildCount(): number {
  return live.size;
}

/** The package root: where `dist/` and `node_modules/` are, whether we run from src/ or dist/src/. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`cannot find package.json above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
  return dir;
}

/**
 * Path of a compiled subprocess entry point. Node 20 cannot run .ts, and a loader costs ~0.2 s a
 * start, so children always run from `dist/` (`npm run build`, which `npm test` does first).
 */
export function helperScript(name: string): string {
  const script = resolve(packageRoot(), 'dist', 'helpers', `${name}.js`);
  if (!existsSync(script)) {
    throw new Error(`helper ${script} is not built; run \`npm run build\` first`);
  }
  return script;
}

export interface SpawnHelperOptions {
  /** Extra environment for the child. */
  readonly env?: Record<string, string>;
}

/**
 * Starts `node dist/helpers/<name>.js ...args` with piped stdio and registers it for cleanup.
 * The returned promise never rejects on a non-zero exit: callers read `exitCode` themselves.
 */
export function spawnHelper(
  name: string,
  args: readonly string[],
  options: SpawnHelperOptions = {},
): ResultPromise {
  installExitHooks();
  const child = execa(process.execPath, [helperScript(name), ...args], {
    stdin: 'pipe',
    stdout: 'pipe',
    stderr: 'pipe',
    reject: false,
    buffer: false,
    cleanup: true,
    env: options.env ?? {},
    extendEnv: true,
  });
  live.add(child);
  const forget = () => live.delete(child);
  child.then(forget, forget);
  return child;
}

/**
 * Ends a child that exits when its stdin closes (the helpers release what they hold first):
 * closes stdin, SIGKILLs it if it has not exited within `graceMs`, and resolves with `exited`.
 */
export async function closeStdinThenKill<T>(
  child: ResultPromise,
  exited: Promise<T>,
  graceMs: number,
): Promise<T> {
  if (child.exitCode === null && child.signalCode === null) child.stdin?.end();
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    return await exited;
  } finally {
    clearTimeout(timer);
  }
}

/** Ends a child: SIGTERM, then SIGKILL after `graceMs`. Resolves once it has exited. */
export async function stopChild(child: ResultPromise, graceMs = 2000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) {
    await child.catch(() => undefined);
    return;
  }
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  try {
    await child.catch(() => undefined);
  } finally {
    clearTimeout(timer);
  }
}
