import { execFile } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync } from 'node:fs';
import { copyFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { OwnerClient } from '../src/child-protocol/owner-client.js';
import { procWriteLockHolders } from '../src/election/proc-locks.js';
import { Database } from '../src/index/database.js';
import { createDefaultEmbedder, type Embedder } from '../src/index/embedder.js';
import { prepareFile } from '../src/index/prepare.js';
import { Searcher } from '../src/index/search.js';
import type { SearchMode } from '../src/index/types.js';
import { handoffStats, readOwnerStats, resetHandoffStats } from '../src/strategies/handoff.js';
import { getStrategy, strategyNames } from '../src/strategies/registry.js';
import { copyFromDescriptor, listSnapshots, SnapshotOwner } from '../src/strategies/snapshot.js';
import type { ReaderSide } from '../src/strategies/strategy.js';
import { fileContent, tokensIn } from '../src/tester/tokens.js';
import { percentile } from './stats.js';
import { generateRepo, readRepoFiles } from './synthetic-repo.js';

/**
 * What each access strategy costs, with a real owner child (helpers/stress-owner.js) and the
 * reader in this process, on one index of BENCH_STRATEGY_DEFS definitions (~chunks, default 2000):
 * - reader search latency p50/p99 (owner idle), next to the same searches run in an owner process
 *   (a read-write Database in this process, after the child let go);
 * - write throughput alone, and while the reader searches without pause (and how fast it searched);
 * - staleness: from a write's acknowledgement to the end of the first search that sees it;
 * - lock conflicts: failed lock attempts each side retried (handoff), searches that failed.
 * Plus, for snapshot, what one publish costs at this index size, and the ways to copy the file
 * side by side (copyMethods): the old `fs.copyFile`, which drops the owner's lock, against the
 * descriptor copy the owner uses now, `cp` in a child, and DuckDB's COPY FROM DATABASE.
 */

const MODE: SearchMode = 'hybrid';
const SEARCHES = Number(process.env.BENCH_STRATEGY_SEARCHES ?? 200);
const WRITES = Number(process.env.BENCH_STRATEGY_WRITES ?? 30);

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : 'n/a');

interface Corpus {
  readonly files: { path: string; content: string }[];
  readonly queries: string[];
}

async function corpus(dir: string, definitions: number): Promise<Corpus> {
  const repo = await generateRepo(dir, definitions);
  const files = readRepoFiles(dir);
  const queries = repo.identifiers.map((i) => i.name.replace(/([a-z])([A-Z])/g, '$1 $2'));
  return { files, queries: queries.length > 0 ? queries : ['user session'] };
}

interface Row {
  strategy: string;
  contract: string;
  readerP50: number;
  readerP99: number;
  ownerP50: number;
  ownerP99: number;
  writesAlone: number;
  writesWithReader: number;
  searchesDuringWrites: number;
  staleP50: number;
  staleMax: number;
  searchesToSee: number;
  conflicts: string;
  failedSearches: number;
}

async function timedSearches(
  search: (q: string) => Promise<unknown>,
  queries: readonly string[],
  count: number,
): Promise<number[]> {
  for (let i = 0; i < 10; i++) await search(queries[i % queries.length] as string);
  const times: number[] = [];
  for (let i = 0; i < count; i++) {
    const t = performance.now();
    await search(queries[i % queries.length] as string);
    times.push(performance.now() - t);
  }
  return times;
}

async function measure(name: string, data: Corpus, embedder: Embedder, base: string): Promise<Row> {
  const strategy = getStrategy(name);
  const dir = mkdtempSync(join(base, `${name}-`));
  const dbPath = join(dir, 'index.db');
  const owner = await OwnerClient.start(name);
  resetHandoffStats();
  let reader: ReaderSide | undefined;
  try {
    const request = async (op: 'open' | 'write' | 'release', args?: Record<string, unknown>) => {
      const reply = await owner.request(op, args, 120_000);
      if (!reply.ok) throw new Error(`${name}: owner ${op} failed: ${reply.error}`);
    };
    await request('open', { db: dbPath, dir });
    await request('write', { files: data.files });
    const write = (i: number, token: string) => {
      const path = `bench/w${i % 8}.ts`;
      return request('write', { files: [{ path, content: fileContent(path, token, 4) }] });
    };

    // Writes with nobody reading.
    let t = performance.now();
    for (let i = 0; i < WRITES; i++) await write(i, `zqalonex${letters(i)}`);
    const writesAlone = WRITES / ((performance.now() - t) / 1000);

    reader = strategy.createReader({ dbPath, workDir: dir, embedder });
    await reader.open();
    const r = reader;
    const readerTimes = await timedSearches(
      (q) => r.search(q, { mode: MODE, topK: 10 }),
      data.queries,
      SEARCHES,
    );

    // Writes while the reader searches without pause.
    let searching = true;
    let searched = 0;
    let failed = 0;
    const loop = (async () => {
      let i = 0;
      while (searching) {
        try {
          await r.search(data.queries[i++ % data.queries.length] as string, { mode: MODE, topK: 10 });
          searched++;
        } catch {
          failed++;
        }
      }
    })();
    t = performance.now();
    for (let i = 0; i < WRITES; i++) await write(i, `zqbusyx${letters(i)}`);
    const busyS = (performance.now() - t) / 1000;
    searching = false;
    await loop;

    // Staleness: acknowledgement to the end of the first search that sees the write.
    const stale: number[] = [];
    let searchesToSee = 0;
    for (let i = 0; i < 20; i++) {
      const token = `zqstalex${letters(i)}`;
      await write(i, token);
      const acked = performance.now();
      for (let n = 1; n <= 1000; n++) {
        const results = await r.search(token, { mode: 'bm25', topK: 10 });
        if (results.some((x) => tokensIn(x.preview).includes(token))) {
          stale.push(performance.now() - acked);
          searchesToSee = Math.max(searchesToSee, n);
          break;
        }
      }
    }
    await reader.close();
    reader = undefined;

    const ownerStats = [...readOwnerStats(dir).values()][0];
    const readerStats = handoffStats().reader;
    const conflicts =
      ownerStats === undefined
        ? '0 / 0'
        : `${ownerStats.conflicts} / ${readerStats.conflicts} (yields ${ownerStats.yields} / ${readerStats.yields}; worst wait ${ms(ownerStats.worstWaitMs)} / ${ms(readerStats.worstWaitMs)} ms)`;

    // The same searches in an owner: a read-write Database in this process, once the child let go.
    await request('release');
    const db = await Database.open(dbPath, {
      mode: 'owner',
      dimensions: embedder.dimensions,
      embedder: embedder.name,
    });
    const searcher = new Searcher(db, embedder);
    const ownerTimes = await timedSearches(
      (q) => searcher.search(q, { mode: MODE, topK: 10 }),
      data.queries,
      SEARCHES,
    );
    await db.close();

    return {
      strategy: name,
      contract: strategy.contract,
      readerP50: percentile(readerTimes, 0.5),
      readerP99: percentile(readerTimes, 0.99),
      ownerP50: percentile(ownerTimes, 0.5),
      ownerP99: percentile(ownerTimes, 0.99),
      writesAlone,
      writesWithReader: WRITES / busyS,
      searchesDuringWrites: searched / busyS,
      staleP50: percentile(stale, 0.5),
      staleMax: Math.max(...stale),
      searchesToSee,
      conflicts,
      failedSearches: failed,
    };
  } finally {
    await reader?.close().catch(() => undefined);
    await owner.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

function letters(n: number): string {
  let out = '';
  let rest = n;
  do {
    out = String.fromCharCode(97 + (rest % 26)) + out;
    rest = Math.floor(rest / 26);
  } while (rest > 0);
  return out;
}

/** One publish of the snapshot owner at this index size, in this process, by phase. */
async function publishCost(data: Corpus, embedder: Embedder, base: string): Promise<string> {
  const dir = mkdtempSync(join(base, 'publish-'));
  const owner = new SnapshotOwner({ dbPath: join(dir, 'index.db'), workDir: dir, embedder });
  try {
    await owner.acquire();
    const prepared = await Promise.all(data.files.map((f) => prepareFile(f.path, f.content, embedder)));
    await owner.write(prepared);
    const phases = {
      checkpointMs: [] as number[],
      copyMs: [] as number[],
      fsyncMs: [] as number[],
      pointerMs: [] as number[],
      total: [] as number[],
    };
    let bytes = 0;
    for (let i = 0; i < 15; i++) {
      const one = await prepareFile(
        'bench/p.ts',
        fileContent('bench/p.ts', `zqpubx${letters(i)}`, 4),
        embedder,
      );
      const t = performance.now();
      await owner.write([one]);
      phases.total.push(performance.now() - t);
      const last = owner.lastPublish;
      if (last === undefined) continue;
      phases.checkpointMs.push(last.checkpointMs);
      phases.copyMs.push(last.copyMs);
      phases.fsyncMs.push(last.fsyncMs);
      phases.pointerMs.push(last.pointerMs);
      bytes = last.bytes;
    }
    const p = (v: number[]) => ms(percentile(v, 0.5));
    const publish = `snapshot publish (p50 of 15, ${(bytes / 1e6).toFixed(1)} MB file): write+publish ${p(phases.total)} ms = CHECKPOINT ${p(phases.checkpointMs)} + copy ${p(phases.copyMs)} + fsync/rename ${p(phases.fsyncMs)} + CURRENT ${p(phases.pointerMs)} ms (+ the write itself)`;
    return `${publish}\n${await copyMethods(join(dir, 'index.db'), dir)}`;
  } finally {
    await owner.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

const run = promisify(execFile);

/**
 * The ways to copy the live index, timed on the same bytes in one run (p50, interleaved so the page
 * cache treats them alike), then whether the owner in this process still holds its lock afterwards.
 * `fs.copyFile` and the descriptor copy are timed on the newest published snapshot, a byte copy of
 * the index: run on the index itself, `fs.copyFile` would drop the lock before the others are
 * timed. It is run on the index once at the very end, to show exactly that.
 */
async function copyMethods(dbPath: string, dir: string): Promise<string> {
  const ROUNDS = 15;
  const SLOW_ROUNDS = 5;
  const same = listSnapshots(dir).at(-1)?.path;
  if (same === undefined)
    throw new Error(`bench: no published snapshot in ${dir}; the publish loop above should have made one`);
  const target = join(dir, 'bench-copy.db');
  const times = {
    copyFile: [] as number[],
    descriptor: [] as number[],
    cp: [] as number[],
    copyFromDb: [] as number[],
  };
  const timed = async (into: number[], copy: () => Promise<unknown>) => {
    await rm(target, { force: true });
    const t = performance.now();
    await copy();
    into.push(performance.now() - t);
  };
  const fd = openSync(same, 'r');
  try {
    for (let i = 0; i < ROUNDS; i++) {
      await timed(times.copyFile, () => copyFile(same, target));
      await timed(times.descriptor, () => copyFromDescriptor(fd, target));
      // On the live index: a child's descriptors are not this process's, so its close drops nothing.
      await timed(times.cp, () => run('cp', ['--', dbPath, target]));
    }
  } finally {
    closeSync(fd);
  }
  const afterCp = await procWriteLockHolders(dbPath);
  // In an instance of its own (on the snapshot, READ_ONLY), as the owner would run it on its index.
  const instance = await DuckDBInstance.create(':memory:');
  const conn = await instance.connect();
  try {
    await conn.run(`ATTACH '${same.replaceAll("'", "''")}' AS src (READ_ONLY)`);
    for (let i = 0; i < SLOW_ROUNDS; i++) {
      await timed(times.copyFromDb, async () => {
        await conn.run(`ATTACH '${target.replaceAll("'", "''")}' AS dst`);
        await conn.run('COPY FROM DATABASE src TO dst');
        await conn.run('DETACH dst');
      });
      await rm(`${target}.wal`, { force: true });
    }
  } finally {
    conn.closeSync();
    instance.closeSync();
  }
  const beforeOld = await procWriteLockHolders(dbPath);
  await rm(target, { force: true });
  await copyFile(dbPath, target);
  const afterOld = await procWriteLockHolders(dbPath);
  await rm(target, { force: true });

  const p50 = (v: number[]) => percentile(v, 0.5);
  const base = p50(times.copyFile);
  const vs = (v: number[]) => `${ms(p50(v))} ms (x${(p50(v) / base).toFixed(1)})`;
  const holders = (h: number[] | undefined) =>
    h === undefined
      ? 'unknown (no /proc/locks)'
      : h.includes(process.pid)
        ? 'held by this owner'
        : `LOST (holders: ${h.join(', ') || 'none'})`;
  return [
    `copying the index, same bytes, p50 of ${ROUNDS} (COPY FROM DATABASE of ${SLOW_ROUNDS}):`,
    `  fs.copyFile ${ms(base)} ms (old, loses the lock) | read through the held descriptor ${vs(times.descriptor)} (new) | cp in a child ${vs(times.cp)} | ATTACH + COPY FROM DATABASE ${vs(times.copyFromDb)}`,
    `  the owner's lock: after 15 publishes and ${ROUNDS} child cp runs ${holders(afterCp)}; before one fs.copyFile of the index ${holders(beforeOld)}; after it ${holders(afterOld)}`,
  ].join('\n');
}

export async function strategyCosts(): Promise<void> {
  const definitions = Number(process.env.BENCH_STRATEGY_DEFS ?? 2000);
  const embedder = createDefaultEmbedder();
  const base = mkdtempSync(join(tmpdir(), 'embecode-bench-strategies-'));
  try {
    const data = await corpus(join(base, 'repo'), definitions);
    const names = (process.env.BENCH_STRATEGIES?.split(',') ?? strategyNames()).filter(
      (n) => n !== 'readonly-direct' && strategyNames().includes(n),
    );
    const rows: Row[] = [];
    for (const name of names) rows.push(await measure(name, data, embedder, base));
    console.log(
      `\n${data.files.length} files, ~${definitions} definitions; ${SEARCHES} ${MODE} searches, ${WRITES} one-file writes per phase\n`,
    );
    console.log(
      '| strategy | contract | reader search p50 / p99 ms | same search in owner p50 / p99 ms | writes/s alone | writes/s with a reader searching | reader searches/s meanwhile | staleness p50 / max ms (searches to see) | lock conflicts owner / reader | failed searches |',
    );
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const r of rows) {
      console.log(
        `| ${r.strategy} | ${r.contract} | ${ms(r.readerP50)} / ${ms(r.readerP99)} | ${ms(r.ownerP50)} / ${ms(r.ownerP99)} | ${r.writesAlone.toFixed(1)} | ${r.writesWithReader.toFixed(1)} | ${r.searchesDuringWrites.toFixed(1)} | ${ms(r.staleP50)} / ${ms(r.staleMax)} (${r.searchesToSee}) | ${r.conflicts} | ${r.failedSearches} |`,
      );
    }
    if (names.includes('snapshot')) console.log(`\n${await publishCost(data, embedder, base)}`);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  await strategyCosts();
}
