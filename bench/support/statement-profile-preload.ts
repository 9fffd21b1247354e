import { writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import { type StatementTally, statementKey } from './statement-profile.js';

/**
 * Loaded with `node --import` into every process of a stress check (NODE_OPTIONS), it times each
 * DuckDB statement the process runs, by statement shape, and writes the tally to
 * `$EMBECODE_STATEMENT_PROFILE/<script>.<pid>.json` when the process exits:
 *
 *   EMBECODE_STATEMENT_PROFILE=/tmp/sp NODE_OPTIONS="--import $PWD/dist/bench/support/statement-profile-preload.js" \
 *     node dist/src/cli/embecode-stress.js run --strategy ipc --runs 100 --seed 60
 *   node dist/bench/statement-profile.js /tmp/sp 100
 *
 * It wraps `DuckDBConnection.prototype.run`, which every query goes through (`runAndReadAll` and
 * parameterised runs included), in the same module instance src/index/duckdb-api.ts loads (both
 * go through require, and so through one cache). Times are wall time from the call to its
 * promise settling: what the calling process waited, DuckDB's threads and queueing included.
 * Without the variable it changes nothing.
 */
const dir = process.env.EMBECODE_STATEMENT_PROFILE;
if (dir !== undefined && dir !== '') {
  const api = createRequire(import.meta.url)('@duckdb/node-api') as {
    DuckDBConnection: { prototype: DuckDBConnection };
  };
  const tally: StatementTally = {};
  const proto = api.DuckDBConnection.prototype as unknown as {
    run: (this: DuckDBConnection, sql: string, ...rest: unknown[]) => Promise<unknown>;
  };
  const run = proto.run;
  proto.run = async function timed(this: DuckDBConnection, sql: string, ...rest: unknown[]) {
    const started = performance.now();
    try {
      return await run.call(this, sql, ...rest);
    } finally {
      const key = statementKey(sql);
      const entry = tally[key] ?? { count: 0, ms: 0 };
      entry.count++;
      entry.ms += performance.now() - started;
      tally[key] = entry;
    }
  };
  const script = basename(process.argv[1] ?? 'node');
  process.on('exit', () => {
    if (Object.keys(tally).length > 0) {
      writeFileSync(join(dir, `${script}.${process.pid}.json`), JSON.stringify(tally));
    }
  });
}
