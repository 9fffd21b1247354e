import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** Statement shape to how often it ran and the wall time it took in all, in one process. */
export type StatementTally = Record<string, { count: number; ms: number }>;

/** The first characters of a statement with what varies between runs of one shape folded away. */
export function statementKey(sql: string): string {
  return sql
    .replace(/\b(embecode|intruder)_[0-9_]+/g, '$1_N')
    .replace(/'[^']*'/g, "'…'")
    .replace(/\$\d+/g, '?')
    .replace(/\s+/g, ' ')
    .trim()
    .slice(0, 80);
}

export interface StatementRow {
  /** The process's script, e.g. stress-owner.js. */
  readonly process: string;
  readonly statement: string;
  readonly perRun: number;
  readonly msPerRun: number;
  readonly msEach: number;
}

/** Every tally in `dir` (see statement-profile-preload.ts), summed by process script and statement, most time first. */
export function readStatementProfiles(dir: string, runs: number): StatementRow[] {
  const sums = new Map<string, { process: string; statement: string; count: number; ms: number }>();
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const process = file.replace(/\.\d+\.json$/, '');
    const tally = JSON.parse(readFileSync(join(dir, file), 'utf8')) as StatementTally;
    for (const [statement, { count, ms }] of Object.entries(tally)) {
      const key = `${process}\u0000${statement}`;
      const sum = sums.get(key) ?? { process, statement, count: 0, ms: 0 };
      sum.count += count;
      sum.ms += ms;
      sums.set(key, sum);
    }
  }
  return [...sums.values()]
    .map((s) => ({
      process: s.process,
      statement: s.statement,
      perRun: s.count / runs,
      msPerRun: s.ms / runs,
      msEach: s.ms / s.count,
    }))
    .sort((a, b) => b.msPerRun - a.msPerRun);
}
