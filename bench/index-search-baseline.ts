import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, symlink } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import * as currentDatabase from '../src/index/database.js';
import * as currentEmbedder from '../src/index/embedder.js';
import * as currentIndexer from '../src/index/indexer.js';
import * as currentSearch from '../src/index/search.js';
import type { SearchMode } from '../src/index/types.js';
import { makeQueries } from './index-search.js';
import { percentile } from './stats.js';
import { generateRepo } from './synthetic-repo.js';

/**
 * Indexing throughput and search p50 of this checkout next to an older commit's (by default the
 * commit before issue 13 changed the ranking), in one process, on one generated repository, so that
 * the machine's load weighs on both alike: a shared machine's load moves absolute timings by 2-5x
 * from minute to minute, and only a ratio measured side by side means anything.
 *
 * The older commit is taken with `git archive` into a temporary directory, given this checkout's
 * node_modules (a symlink: one @duckdb/node-api in the process) and compiled with this checkout's
 * tsc. Each round indexes the repository once with each (which goes first alternates), then runs
 * every query of every mode against both indexes, alternating which goes first per query, in the
 * owner (vector search on its in-memory cache) and in a READ_ONLY reader (SQL only). Times are wall
 * time and CPU time of the process (DuckDB's threads included) per search; load averages are
 * printed at the start and end of each round.
 *
 * Knobs: BENCH_BASELINE_COMMIT (default 397f106, main before the issue-13 merge), BENCH_SIZE
 * (chunks, default 100000), BENCH_ROUNDS (default 2), BENCH_QUERIES (per mode, default 50).
 */

const MODES: readonly SearchMode[] = ['vector', 'bm25', 'hybrid'];
const DEFAULT_BASELINE = '397f106';

/** The parts of the index both checkouts export under the same names. */
interface IndexModules {
  readonly Database: typeof currentDatabase.Database;
  readonly createDefaultEmbedder: typeof currentEmbedder.createDefaultEmbedder;
  readonly indexProject: typeof currentIndexer.indexProject;
  readonly Searcher: typeof currentSearch.Searcher;
}

interface Side {
  readonly name: 'baseline' | 'now';
  readonly modules: IndexModules;
  readonly dbPath: string;
}

const packageRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();

/** Compiles `commit` of this repository into `dir` and loads its index modules. */
async function buildBaseline(commit: string, dir: string): Promise<IndexModules> {
  const archive = execFileSync('git', ['-C', packageRoot, 'archive', '--format=tar', commit], {
    maxBuffer: 256 * 1024 * 1024,
  });
  await mkdir(dir, { recursive: true });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  await symlink(join(packageRoot, 'node_modules'), join(dir, 'node_modules'), 'dir');
  execFileSync(process.execPath, [join(packageRoot, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], {
    stdio: 'inherit',
  });
  const load = (path: string) => import(pathToFileURL(join(dir, 'dist', 'src', 'index', path)).href);
  const [db, embedder, indexer, search] = await Promise.all([
    load('database.js'),
    load('embedder.js'),
    load('indexer.js'),
    load('search.js'),
  ]);
  return {
    Database: db.Database,
    createDefaultEmbedder: embedder.createDefaultEmbedder,
    indexProject: indexer.indexProject,
    Searcher: search.Searcher,
  };
}

const load = () =>
  loadavg()
    .map((x) => x.toFixed(1))
    .join(' ');

interface Timing {
  wall: number[];
  cpu: number[];
}

export async function indexSearchBaseline(): Promise<void> {
  const commit = process.env.BENCH_BASELINE_COMMIT ?? DEFAULT_BASELINE;
  const size = Number(process.env.BENCH_SIZE ?? 100_000);
  const rounds = Number(process.env.BENCH_ROUNDS ?? 2);
  const queryCount = Number(process.env.BENCH_QUERIES ?? 50);
  const base = await mkdtemp(join(tmpdir(), 'embecode-bench-baseline-'));
  try {
    console.log(`building ${commit} in ${base}/checkout (load ${load()})`);
    const baseline = await buildBaseline(commit, join(base, 'checkout'));
    const current: IndexModules = {
      Database: currentDatabase.Database,
      createDefaultEmbedder: currentEmbedder.createDefaultEmbedder,
      indexProject: currentIndexer.indexProject,
      Searcher: currentSearch.Searcher,
    };
    const repoDir = join(base, 'repo');
    const repo = await generateRepo(repoDir, size);
    const queries = makeQueries(repo, queryCount);
    for (let round = 1; round <= rounds; round++) {
      const sides: Side[] = [
        { name: 'baseline', modules: baseline, dbPath: join(base, `baseline-${round}.db`) },
        { name: 'now', modules: current, dbPath: join(base, `now-${round}.db`) },
      ];
      const startLoad = load();
      const indexing = new Map<string, { chunks: number; wall: number; cpu: number }>();
      for (const side of round % 2 === 1 ? sides : [...sides].reverse()) {
        indexing.set(side.name, await indexOnce(side, repoDir));
      }
      const owner = await searchSideBySide(sides, 'owner', queries);
      const reader = await searchSideBySide(sides, 'reader', queries);
      for (const side of sides) await rm(side.dbPath, { force: true });
      const b = indexing.get('baseline') as { chunks: number; wall: number; cpu: number };
      const n = indexing.get('now') as { chunks: number; wall: number; cpu: number };
      const rows: string[][] = [
        [
          'index chunks/s (wall)',
          fmt(b.chunks / b.wall, 0),
          fmt(n.chunks / n.wall, 0),
          ratio(b.chunks / b.wall, n.chunks / n.wall),
        ],
        [
          'index chunks/s (cpu)',
          fmt(b.chunks / b.cpu, 0),
          fmt(n.chunks / n.cpu, 0),
          ratio(b.chunks / b.cpu, n.chunks / n.cpu),
        ],
      ];
      for (const [where, timings] of [
        ['owner', owner],
        ['reader', reader],
      ] as const) {
        for (const mode of MODES) {
          const t = timings.get(mode) as Map<string, Timing>;
          const tb = t.get('baseline') as Timing;
          const tn = t.get('now') as Timing;
          for (const kind of ['wall', 'cpu'] as const) {
            const pb = percentile(tb[kind], 0.5);
            const pn = percentile(tn[kind], 0.5);
            rows.push([`${where} ${mode} p50 ms (${kind})`, fmt(pb, 1), fmt(pn, 1), ratio(pn, pb)]);
          }
        }
      }
      console.log(
        `\nRound ${round} of ${rounds}: ${b.chunks} chunks (baseline) / ${n.chunks} (now), ${queries.length} queries per mode; load average ${startLoad} at the start, ${load()} at the end`,
      );
      printTable(['measure', `baseline ${commit}`, 'now', 'now / baseline'], rows);
    }
    console.log(
      '\nchunks/s ratios are baseline / now (above 1: now indexes slower); p50 ratios are now / baseline (above 1: now searches slower).',
    );
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function indexOnce(
  side: Side,
  repoDir: string,
): Promise<{ chunks: number; wall: number; cpu: number }> {
  const embedder = side.modules.createDefaultEmbedder();
  const db = await side.modules.Database.open(side.dbPath, {
    mode: 'owner',
    dimensions: embedder.dimensions,
    embedder: embedder.name,
  });
  try {
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    const report = await side.modules.indexProject(repoDir, db, embedder);
    const wall = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    return { chunks: report.chunks, wall, cpu: (cpu.user + cpu.system) / 1e6 };
  } finally {
    await db.close();
  }
}

/** Per mode, per side: wall and CPU ms of every search, both sides' searches interleaved. */
async function searchSideBySide(
  sides: readonly Side[],
  mode: 'owner' | 'reader',
  queries: readonly string[],
): Promise<Map<SearchMode, Map<string, Timing>>> {
  const opened: { side: Side; db: currentDatabase.Database; searcher: currentSearch.Searcher }[] = [];
  try {
    for (const side of sides) {
      const db = await side.modules.Database.open(side.dbPath, { mode });
      opened.push({
        side,
        db,
        searcher: new side.modules.Searcher(db, side.modules.createDefaultEmbedder()),
      });
    }
    // Warm-up: the vector cache's load, DuckDB's buffer pool, the JIT.
    for (const { searcher } of opened)
      for (const m of MODES) for (const q of queries.slice(0, 3)) await searcher.search(q, { mode: m });
    const result = new Map<SearchMode, Map<string, Timing>>();
    for (const m of MODES) {
      const perSide = new Map<string, Timing>(opened.map((o) => [o.side.name, { wall: [], cpu: [] }]));
      for (let i = 0; i < queries.length; i++) {
        const order = i % 2 === 0 ? opened : [...opened].reverse();
        for (const { side, searcher } of order) {
          const cpuBefore = process.cpuUsage();
          const started = performance.now();
          await searcher.search(queries[i] as string, { mode: m });
          const wall = performance.now() - started;
          const cpu = process.cpuUsage(cpuBefore);
          const t = perSide.get(side.name) as Timing;
          t.wall.push(wall);
          t.cpu.push((cpu.user + cpu.system) / 1000);
        }
      }
      result.set(m, perSide);
    }
    return result;
  } finally {
    for (const { db } of opened) await db.close();
  }
}

const fmt = (x: number, digits: number) => x.toFixed(digits);
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}x`;

function printTable(header: readonly string[], rows: readonly (readonly string[])[]): void {
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((row) => (row[c] ?? '').length)));
  const line = (row: readonly string[]) =>
    row.map((cell, c) => (c === 0 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const row of rows) console.log(line(row));
}
