import { readFileSync } from 'node:fs';
import { type as osType, release } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '../index/duckdb-api.js';
import { packageRoot } from '../process/children.js';

export interface Versions {
  readonly embecode: string;
  readonly node: string;
  readonly duckdb: string;
  readonly duckdbNodeApi: string;
  readonly os: string;
}

function packageVersion(file: string): string {
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Versions of everything a failure may depend on, for failure artifacts. */
export async function collectVersions(): Promise<Versions> {
  const root = packageRoot();
  let duckdb = 'unknown';
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    duckdb = String((await conn.runAndReadAll('SELECT version()')).getRows()[0]?.[0] ?? 'unknown');
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  return {
    embecode: packageVersion(join(root, 'package.json')),
    node: process.version,
    duckdb,
    duckdbNodeApi: packageVersion(join(root, 'node_modules', '@duckdb', 'node-api', 'package.json')),
    os: `${osType()} ${release()} ${process.arch}`,
  };
}
