import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { readStatementProfiles, statementKey } from '../../bench/support/statement-profile.js';
import { packageRoot } from '../../src/process/children.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

afterEach(removeTempDirs);

const PRELOAD = join(packageRoot(), 'dist', 'bench', 'support', 'statement-profile-preload.js');

/** Three plain statements and two parameterised ones, on DuckDB loaded the way src/index loads it. */
const SCRIPT = `
const { createRequire } = require('node:module');
const { DuckDBInstance, INTEGER } = createRequire(process.env.PACKAGE_JSON)('@duckdb/node-api');
(async () => {
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  for (let i = 0; i < 3; i++) await conn.runAndReadAll('SELECT   1');
  for (let i = 0; i < 2; i++) await conn.runAndReadAll('SELECT $1 + ' + i, [i], [INTEGER]);
  conn.closeSync();
  instance.closeSync();
})();
`;

/** Runs SCRIPT in `cwd` with the preload; `env` adds to this process's environment. */
async function runScript(cwd: string, env: Record<string, string>): Promise<void> {
  await execa(process.execPath, ['--import', PRELOAD, '-e', SCRIPT], {
    cwd,
    env: { PACKAGE_JSON: join(packageRoot(), 'package.json'), ...env },
    timeout: 30_000,
  });
}

describe('statement profile', () => {
  it('folds what varies between runs of one statement: aliases, strings, parameters, spacing', () => {
    expect(statementKey("ATTACH '/tmp/a b/index.db' AS embecode_123_4 (READ_ONLY)")).toBe(
      "ATTACH '…' AS embecode_N (READ_ONLY)",
    );
    expect(statementKey('SELECT  *\n FROM intruder_7.chunks WHERE id = $12')).toBe(
      'SELECT * FROM intruder_N.chunks WHERE id = ?',
    );
  });

  it('tallies every statement of a process it is preloaded into, by shape, when the process exits', async () => {
    const dir = await makeTempDir();
    await runScript(await makeTempDir(), { EMBECODE_STATEMENT_PROFILE: dir });
    const rows = readStatementProfiles(dir, 1);
    const counts = Object.fromEntries(rows.map((r) => [r.statement, r.perRun]));
    expect(counts).toEqual({ 'SELECT 1': 3, 'SELECT ? + 0': 1, 'SELECT ? + 1': 1 });
    for (const row of rows) {
      expect(row.process).toBe('node');
      expect(row.msEach).toBeGreaterThan(0);
    }
  });

  it('writes nothing with EMBECODE_STATEMENT_PROFILE empty or unset (not even into the working directory)', async () => {
    const cwd = await makeTempDir();
    await runScript(cwd, { EMBECODE_STATEMENT_PROFILE: '' });
    const { EMBECODE_STATEMENT_PROFILE: _unset, ...rest } = process.env;
    await execa(process.execPath, ['--import', PRELOAD, '-e', SCRIPT], {
      cwd,
      env: { ...rest, PACKAGE_JSON: join(packageRoot(), 'package.json') },
      extendEnv: false,
      timeout: 30_000,
    });
    expect(readdirSync(cwd)).toEqual([]);
  });
});
