import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Database } from '../src/index/database.js';
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { indexProject } from '../src/index/indexer.js';
import { Searcher } from '../src/index/search.js';
import type { SearchMode } from '../src/index/types.js';
import { percentile } from './stats.js';
import { generateRepo, rng, type SyntheticRepo } from './synthetic-repo.js';

/**
 * Indexing throughput and search latency on generated repositories (default ~10k and ~100k chunks):
 * chunks/s for a full index with the default embedder, then p50/p95 of vector, bm25 and hybrid
 * search, (a) in the owner, whose vector search runs on its in-memory VectorCache, and (b) in a
 * READ_ONLY reader (a fresh process's view: plain SQL, no cache). Also hit@1 for identifier
 * queries: how often the file that defines the identifier comes first.
 *
 * Knobs: BENCH_SIZES (comma-separated chunk counts, default "10000,100000"), BENCH_QUERIES
 * (default 50 per mode).
 */

const MODES: readonly SearchMode[] = ['vector', 'bm25', 'hybrid'];

interface Row {
  readonly label: string;
  readonly values: readonly string[];
}

export async function indexSearch(): Promise<void> {
  const sizes = (process.env.BENCH_SIZES ?? '10000,100000')
    .split(',')
    .map((s) => Number(s.trim()))
    .filter((n) => Number.isInteger(n) && n > 0);
  const queryCount = Number(process.env.BENCH_QUERIES ?? 50);
  const indexing: Row[] = [];
  const searching: Row[] = [];
  for (const size of sizes) {
    const base = await mkdtemp(join(tmpdir(), 'embecode-bench-index-'));
    try {
      const repoDir = join(base, 'repo');
      const dbPath = join(base, 'index.db');
      const repo = await generateRepo(repoDir, size);
      const embedder = createDefaultEmbedder();

      const owner = await Database.open(dbPath, {
        mode: 'owner',
        dimensions: embedder.dimensions,
        embedder: embedder.name,
      });
      let ownerRows: Row[];
      let chunks = 0;
      try {
        const cpuBefore = process.cpuUsage();
        const report = await indexProject(repoDir, owner, embedder);
        const cpu = process.cpuUsage(cpuBefore);
        const stats = await owner.stats();
        const seconds = report.elapsedMs / 1000;
        chunks = stats.chunks;
        const loadStart = performance.now();
        await owner.vectorCache();
        const loadMs = performance.now() - loadStart;
        indexing.push({
          label: `${stats.chunks} chunks`,
          values: [
            String(repo.files),
            String(stats.postings),
            seconds.toFixed(2),
            ((cpu.user + cpu.system) / 1e6).toFixed(2),
            String(Math.round(report.chunks / seconds)),
            loadMs.toFixed(0),
          ],
        });
        ownerRows = await measure(`${chunks} chunks, owner`, owner, embedder, repo, queryCount);
      } finally {
        await owner.close();
      }
      const reader = await Database.open(dbPath, { mode: 'reader' });
      try {
        searching.push(
          ...ownerRows,
          ...(await measure(`${chunks} chunks, reader`, reader, embedder, repo, queryCount)),
        );
      } finally {
        await reader.close();
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  }
  printTable(
    'Indexing (default embedder, full index)',
    ['size', 'files', 'postings', 'wall s', 'cpu s', 'chunks/s', 'cache load ms'],
    indexing,
  );
  printTable(
    `Search latency, ms (${queryCount} queries per mode) and identifier hit@1`,
    ['index / process', ...MODES.flatMap((m) => [`${m} p50`, `${m} p95`]), 'bm25 hit@1', 'hybrid hit@1'],
    searching,
  );
}

async function measure(
  label: string,
  db: Database,
  embedder: ReturnType<typeof createDefaultEmbedder>,
  repo: SyntheticRepo,
  queryCount: number,
): Promise<Row[]> {
  const searcher = new Searcher(db, embedder);
  const queries = makeQueries(repo, queryCount);
  const values: string[] = [];
  // Warm-up: first queries pay for cold caches (DuckDB's buffer pool, the JIT).
  for (const mode of MODES) for (const q of queries.slice(0, 3)) await searcher.search(q, { mode });
  for (const mode of MODES) {
    const times: number[] = [];
    for (const q of queries) {
      const start = performance.now();
      await searcher.search(q, { mode });
      times.push(performance.now() - start);
    }
    times.sort((a, b) => a - b);
    values.push(percentile(times, 0.5).toFixed(1), percentile(times, 0.95).toFixed(1));
  }
  for (const mode of ['bm25', 'hybrid'] as const) {
    const sample = repo.identifiers.slice(0, queryCount);
    let first = 0;
    for (const { name, path } of sample) {
      const [top] = await searcher.search(name, { mode, topK: 1 });
      if (top?.path === path) first++;
    }
    values.push(sample.length === 0 ? '-' : `${((100 * first) / sample.length).toFixed(0)}%`);
  }
  return [{ label, values }];
}

/** Half identifier queries (exact names from the repository), half short phrases of its vocabulary. */
export function makeQueries(repo: SyntheticRepo, count: number): string[] {
  const random = rng(7);
  const words = [
    'parse config',
    'validate payment token',
    'flush pending buffer',
    'lock mutex snapshot',
    'render widget theme color',
    'retry job queue',
    'checksum digest signature',
    'cursor offset segment',
    'histogram metric gauge',
    'encrypted session certificate',
    'resolve route handler',
    'stale cache invalidate',
  ];
  const queries: string[] = [];
  for (let i = 0; i < count; i++) {
    const identifier = repo.identifiers[Math.floor(random() * repo.identifiers.length)];
    if (i % 2 === 0 && identifier !== undefined) queries.push(identifier.name);
    else queries.push(words[i % words.length] as string);
  }
  return queries;
}

function printTable(title: string, header: readonly string[], rows: readonly Row[]): void {
  const table = [header, ...rows.map((r) => [r.label, ...r.values])];
  const widths = header.map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  console.log(`\n${title}`);
  console.log(line(table[0] as string[]));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of table.slice(1)) console.log(line(row));
}
