import { createRequire } from 'node:module';
import type * as NodeApi from '@duckdb/node-api';

/**
 * @duckdb/node-api, loaded with `require`. The package is CommonJS: imported from ESM, Node first
 * runs its CJS lexer over every one of the package's files to find their named exports, which
 * took 300-400 ms of CPU per process here against ~140 ms through `require`. Every process that
 * opens an index pays it at start (each CLI command, serve, the stress tester's children, the
 * test suite's hundreds of subprocesses), so the whole of embecode takes DuckDB from here.
 * Types come from the package itself, unchanged.
 */
const duckdb = createRequire(import.meta.url)('@duckdb/node-api') as typeof NodeApi;

export const {
  ARRAY,
  arrayValue,
  BIGINT,
  DuckDBArrayValue,
  DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  FLOAT,
  INTEGER,
  LIST,
  listValue,
  TIMESTAMP,
  timestampValue,
  VARCHAR,
} = duckdb;

export type DuckDBArrayValue = NodeApi.DuckDBArrayValue;
export type DuckDBConnection = NodeApi.DuckDBConnection;
export type DuckDBDataChunk = NodeApi.DuckDBDataChunk;
export type DuckDBInstance = NodeApi.DuckDBInstance;
export type { DuckDBArrayVector, DuckDBType, DuckDBValue } from '@duckdb/node-api';
