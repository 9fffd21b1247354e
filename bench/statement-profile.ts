import { pathToFileURL } from 'node:url';
import { readStatementProfiles } from './support/statement-profile.js';

/**
 * `node dist/bench/statement-profile.js DIR [RUNS] [TOP]`: the tallies bench/support/statement-profile-preload.ts
 * wrote to DIR, per run of the check that wrote them (RUNS, default 1), the TOP (default 40) by time.
 */
export function printStatementProfile(dir: string, runs: number, top: number): void {
  const rows = readStatementProfiles(dir, runs);
  const byProcess = new Map<string, number>();
  for (const row of rows) byProcess.set(row.process, (byProcess.get(row.process) ?? 0) + row.msPerRun);
  console.log(
    `DuckDB statement wall time per run, by process: ${[...byProcess].map(([p, ms]) => `${p} ${ms.toFixed(1)} ms`).join(', ')}`,
  );
  console.log('| ms/run | per run | ms each | process | statement |');
  console.log('|---|---|---|---|---|');
  for (const row of rows.slice(0, top)) {
    console.log(
      `| ${row.msPerRun.toFixed(2)} | ${row.perRun.toFixed(2)} | ${row.msEach.toFixed(2)} | ${row.process} | \`${row.statement.replaceAll('|', '\\|')}\` |`,
    );
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const [dir, runs = '1', top = '40'] = process.argv.slice(2);
  if (dir === undefined || !(Number(runs) > 0) || !(Number(top) > 0)) {
    console.error('usage: node dist/bench/statement-profile.js DIR [RUNS > 0] [TOP > 0]');
    process.exit(2);
  }
  printStatementProfile(dir, Number(runs), Number(top));
}
