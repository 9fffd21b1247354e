import { constants, copyFileSync, existsSync } from 'node:fs';
import { Database } from '../index/database.js';
import type { Embedder } from '../index/embedder.js';
import { SetupError } from './run.js';

/**
 * The empty index every run starts from, made once per stress call and copied into each run's
 * directory before the owner opens it. Creating the schema inside the owner cost every run about a
 * third of its open (the DDL transaction and its fsyncs); a copy costs a fraction of a millisecond
 * and gives each run a file of its own, so runs stay independent.
 *
 * Made by the same `Database.open` the owner uses (a bug in the schema shows in every copy) and
 * closed before any copy is taken. This process never has a run's index open, and it holds no lock
 * on the template while copying, so the copy drops nobody's fcntl lock.
 */
export async function createEmptyIndex(path: string, embedder: Embedder): Promise<string> {
  const db = await Database.open(path, {
    mode: 'owner',
    dimensions: embedder.dimensions,
    embedder: embedder.name,
    cacheVectors: false,
  });
  await db.close();
  // A clean close checkpoints: a WAL left here would not be copied, and the copy would lack the schema.
  if (existsSync(`${path}.wal`)) {
    throw new SetupError(`the empty index ${path} kept a WAL after its close; runs cannot start from it`);
  }
  return path;
}

/** Puts a copy of the empty index at `dbPath`, which must not exist yet (each run has a new directory). */
export function copyEmptyIndex(template: string, dbPath: string): void {
  copyFileSync(template, dbPath, constants.COPYFILE_EXCL);
}
