import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { OwnerClient } from '../src/child-protocol/owner-client.js';
import { Database } from '../src/index/database.js';
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { Searcher } from '../src/index/search.js';
import type { SearchMode } from '../src/index/types.js';
import { IpcServer } from '../src/ipc/server.js';
import { IpcReader, ipcSocketPath } from '../src/strategies/ipc.js';
import { percentile } from './stats.js';
import { generateRepo, readRepoFiles } from './synthetic-repo.js';

/**
 * What a search through `ipc` costs next to the same search in the owner process. A real owner
 * child (helpers/stress-owner.js --strategy ipc) holds an index of BENCH_IPC_DEFS definitions
 * (~chunks, default 2000) and serves it; this process is the reader. Then the child releases the
 * index and this process opens it as owner (vector cache loaded, as the ipc owner has it) and runs
 * the same searches directly. Rounds alternate between the two (BENCH_IPC_ROUNDS, default 6) so
 * the machine's noise hits both alike. `round trip` is a query with no searchable terms: the
 * owner answers it without touching DuckDB, so it is the transport alone.
 */

const DEFINITIONS = Number(process.env.BENCH_IPC_DEFS ?? 2000);
const SEARCHES = Number(process.env.BENCH_IPC_SEARCHES ?? 100);
const ROUNDS = Number(process.env.BENCH_IPC_ROUNDS ?? 6);
const WARMUP = 20;

type Kind = SearchMode | 'round trip';
const KINDS: readonly Kind[] = ['round trip', 'bm25', 'vector', 'hybrid'];

const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 3 : 1) : 'n/a');

async function timed(
  search: (query: string, mode: SearchMode) => Promise<unknown>,
  kind: Kind,
  queries: readonly string[],
  into: number[],
): Promise<void> {
  const mode: SearchMode = kind === 'round trip' ? 'bm25' : kind;
  const query = (i: number) => (kind === 'round trip' ? '!!!' : (queries[i % queries.length] as string));
  for (let i = 0; i < WARMUP; i++) await search(query(i), mode);
  for (let i = 0; i < SEARCHES; i++) {
    const t = performance.now();
    await search(query(i), mode);
    into.push(performance.now() - t);
  }
}

export async function strategyLatency(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'embecode-bench-ipc-'));
  const embedder = createDefaultEmbedder();
  const owner = await OwnerClient.start('ipc');
  try {
    const repoDir = join(base, 'repo');
    const repo = await generateRepo(repoDir, DEFINITIONS);
    const queries = repo.identifiers.map((i) => i.name.replace(/([a-z])([A-Z])/g, '$1 $2'));
    const dir = join(base, 'run');
    const dbPath = join(dir, 'index.db');
    const request = async (op: 'open' | 'write' | 'release' | 'acquire', args?: Record<string, unknown>) => {
      const reply = await owner.request(op, args, 300_000);
      if (!reply.ok) throw new Error(`ipc owner ${op} failed: ${reply.error}`);
    };
    mkdirSync(dir);
    await request('open', { db: dbPath, dir });
    await request('write', { files: readRepoFiles(repoDir) });

    const viaIpc = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
    const inOwner = new Map<Kind, number[]>(KINDS.map((k) => [k, []]));
    let chunks = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const reader = new IpcReader({ dbPath, workDir: dir, embedder });
      await reader.open();
      chunks = (await reader.status()).chunks;
      for (const kind of KINDS) {
        await timed(
          (q, mode) => reader.search(q, { mode, topK: 10 }),
          kind,
          queries,
          viaIpc.get(kind) as number[],
        );
      }
      await reader.close();

      await request('release');
      const db = await Database.open(dbPath, {
        mode: 'owner',
        dimensions: embedder.dimensions,
        embedder: embedder.name,
      });
      try {
        await db.vectorCache();
        const searcher = new Searcher(db, embedder);
        for (const kind of KINDS) {
          await timed(
            (q, mode) => searcher.search(q, { mode, topK: 10 }),
            kind,
            queries,
            inOwner.get(kind) as number[],
          );
        }
      } finally {
        await db.close();
      }
      await request('acquire');
    }

    console.log(
      `ipc reader vs the same search in the owner: ${chunks} chunks, ${ROUNDS} alternating rounds x ${SEARCHES} searches per kind, top 10, ms`,
    );
    console.log('');
    console.log('| search | owner p50 | ipc p50 | ipc - owner p50 | owner p99 | ipc p99 | ipc - owner p99 |');
    console.log('|---|---:|---:|---:|---:|---:|---:|');
    for (const kind of KINDS) {
      const o = inOwner.get(kind) as number[];
      const r = viaIpc.get(kind) as number[];
      const [o50, r50, o99, r99] = [
        percentile(o, 0.5),
        percentile(r, 0.5),
        percentile(o, 0.99),
        percentile(r, 0.99),
      ];
      console.log(
        `| ${kind} | ${ms(o50)} | ${ms(r50)} | ${ms(r50 - o50)} | ${ms(o99)} | ${ms(r99)} | ${ms(r99 - o99)} |`,
      );
    }
    await request('release');
    await pairedInOneProcess(dbPath, dir, queries);
  } finally {
    await owner.stop();
    rmSync(base, { recursive: true, force: true });
  }
}

/**
 * The same index, served by an ipc server in this process and searched by an IpcReader in this
 * process, search by search alternating with the same search on the owner's own Searcher: the
 * difference of each pair is what ipc adds (framing, JSON both ways, two socket hops), measured
 * without the noise between rounds. Client and server share one thread here, so this is the CPU
 * cost of both sides; the table above adds the hop between two processes.
 */
async function pairedInOneProcess(dbPath: string, dir: string, queries: readonly string[]): Promise<void> {
  const embedder = createDefaultEmbedder();
  const db = await Database.open(dbPath, {
    mode: 'owner',
    dimensions: embedder.dimensions,
    embedder: embedder.name,
  });
  await db.vectorCache();
  const searcher = new Searcher(db, embedder);
  // What IpcOwner serves, with the same Searcher the direct searches use.
  const server = await IpcServer.listen(ipcSocketPath(dir), {
    search: ({ query, ...options }) => searcher.search(query, options),
    status: async () => ({ pid: process.pid, db: dbPath, holding: true, files: 0, chunks: 0 }),
  });
  const reader = new IpcReader({ dbPath, workDir: dir, embedder });
  try {
    await reader.open();
    console.log('');
    console.log(
      `paired, one process (ipc server and reader both in this process), ${SEARCHES * ROUNDS} pairs per kind, ms`,
    );
    console.log('');
    console.log(
      '| search | owner p50 | ipc p50 | p50 of (ipc - owner) per pair | p99 of (ipc - owner) per pair |',
    );
    console.log('|---|---:|---:|---:|---:|');
    for (const kind of KINDS) {
      const mode: SearchMode = kind === 'round trip' ? 'bm25' : kind;
      const query = (i: number) => (kind === 'round trip' ? '!!!' : (queries[i % queries.length] as string));
      for (let i = 0; i < WARMUP; i++) {
        await reader.search(query(i), { mode, topK: 10 });
        await searcher.search(query(i), { mode, topK: 10 });
      }
      const direct: number[] = [];
      const viaIpc: number[] = [];
      const diff: number[] = [];
      for (let i = 0; i < SEARCHES * ROUNDS; i++) {
        let t = performance.now();
        await searcher.search(query(i), { mode, topK: 10 });
        const d = performance.now() - t;
        t = performance.now();
        await reader.search(query(i), { mode, topK: 10 });
        const r = performance.now() - t;
        direct.push(d);
        viaIpc.push(r);
        diff.push(r - d);
      }
      console.log(
        `| ${kind} | ${ms(percentile(direct, 0.5))} | ${ms(percentile(viaIpc, 0.5))} | ${ms(percentile(diff, 0.5))} | ${ms(percentile(diff, 0.99))} |`,
      );
    }
  } finally {
    await reader.close();
    await server.close();
    await db.close();
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  strategyLatency().then(
    () => process.exit(0),
    (error: unknown) => {
      console.error(`strategy-latency: ${error instanceof Error ? error.stack : String(error)}`);
      process.exit(1);
    },
  );
}
