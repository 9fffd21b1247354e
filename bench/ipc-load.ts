import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { IpcClient } from '../src/ipc/client.js';
import { encodeFrame, FrameDecoder } from '../src/ipc/frame-codec.js';
import { IPC_PROTOCOL_VERSION } from '../src/ipc/messages.js';
import { packageRoot } from '../src/process/children.js';
import { percentile } from './stats.js';
import { generateRepo } from './synthetic-repo.js';

/**
 * The owner's socket under idle and flooding clients (issue 16). A real `embecode serve` owner on a
 * synthetic repository of BENCH_LOAD_DEFS definitions (default 2000); one well-behaved client runs
 * BENCH_LOAD_SEARCHES hybrid top-10 searches one after the other, first alone, then while
 * BENCH_LOAD_IDLE connections (default 128) sit idle after their hello and BENCH_LOAD_FLOODERS
 * connections (default 20) each keep BENCH_LOAD_PIPELINE searches (default 64) of top-BENCH_LOAD_TOPK
 * (default 1000) in flight, reading their answers. Prints the well-behaved client's p50/p99 both
 * ways, the owner's RSS (idle, sampled peak under load, VmHWM), what the flood got back, and the
 * owner's open descriptors before and after every client is gone.
 *
 * Targets (issue 16): p99 under load <= 5x alone, peak RSS <= 2x idle, no crash, no leaked fd.
 */

const DEFINITIONS = Number(process.env.BENCH_LOAD_DEFS ?? 2000);
const SEARCHES = Number(process.env.BENCH_LOAD_SEARCHES ?? 200);
const IDLE = Number(process.env.BENCH_LOAD_IDLE ?? 128);
const FLOODERS = Number(process.env.BENCH_LOAD_FLOODERS ?? 20);
const PIPELINE = Number(process.env.BENCH_LOAD_PIPELINE ?? 64);
const FLOOD_TOP_K = Number(process.env.BENCH_LOAD_TOPK ?? 1000);
const WARMUP = 20;
const START_TIMEOUT_MS = 300_000;
/** SIGTERM to exit; beyond this the owner is SIGKILLed and the stop reported as failed. */
const STOP_TIMEOUT_MS = 30_000;

const CLI = join(packageRoot(), 'dist', 'src', 'cli', 'embecode.js');
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const mib = (kib: number) => (kib / 1024).toFixed(1);
const ms = (v: number) => (Number.isFinite(v) ? v.toFixed(v < 10 ? 2 : 1) : 'n/a');

/** A field of /proc/<pid>/status in KiB (VmRSS, VmHWM), or NaN where there is no /proc. */
function procStatusKib(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(
      readFileSync(`/proc/${pid}/status`, 'utf8'),
    );
    return match?.[1] === undefined ? Number.NaN : Number(match[1]);
  } catch {
    return Number.NaN;
  }
}

function openFds(pid: number): number {
  try {
    return readdirSync(`/proc/${pid}/fd`).length;
  } catch {
    return Number.NaN;
  }
}

interface Owner {
  readonly pid: number;
  readonly socket: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  alive(): boolean;
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  stderrTail(): string;
}

/** Starts `embecode serve` and resolves once it owns the index and has indexed the repository. */
async function startOwner(repo: string, dbPath: string): Promise<Owner> {
  const child = spawn(process.execPath, [CLI, 'serve', repo, '--db', dbPath, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error('embecode serve did not start');
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderr = (stderr + text).slice(-4000);
  });
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => {
      exit = { code, signal };
      resolve(exit);
    });
  });
  const socket = await new Promise<string>((resolve, reject) => {
    let ownerSocket: string | undefined;
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`embecode serve ${pid} did not own and index within ${START_TIMEOUT_MS} ms: ${stderr}`),
      );
    }, START_TIMEOUT_MS);
    void exited.then((e) => {
      clearTimeout(timer);
      reject(new Error(`embecode serve ${pid} exited (${e.code ?? e.signal}) while starting: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      const event = JSON.parse(line) as { event: string; role?: string; ownerSocket?: string };
      if (event.event === 'role' && event.role === 'owner') ownerSocket = event.ownerSocket;
      if (event.event === 'indexed' && ownerSocket !== undefined) {
        clearTimeout(timer);
        resolve(ownerSocket);
      }
    });
  });
  return {
    pid,
    socket,
    exited,
    alive: () => exit === undefined,
    stderrTail: () => stderr,
    stop: async () => {
      if (exit === undefined) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
      const outcome = await exited;
      clearTimeout(timer);
      return outcome;
    },
  };
}

/** A raw connection: says hello, then (for a flooder) keeps `pipeline` searches in flight. */
interface LoadClient {
  readonly socket: Socket;
  readonly replies: Map<string, number>;
  /** The server closed it to make room for a new connection (it was the idlest). */
  evicted: boolean;
  stopSending(): void;
  readonly closed: Promise<void>;
}

async function openLoadClient(path: string, flood: { pipeline: number; queries: string[] } | undefined) {
  const socket = createConnection(path);
  socket.on('error', () => undefined);
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  socket.write(encodeFrame({ hello: 'embecode-ipc', version: IPC_PROTOCOL_VERSION }));
  const replies = new Map<string, number>();
  let sending = flood !== undefined;
  let nextId = 1;
  const send = () => {
    if (!sending || flood === undefined || socket.destroyed) return;
    const query = flood.queries[nextId % flood.queries.length] as string;
    socket.write(
      encodeFrame({ id: nextId++, method: 'search', params: { query, mode: 'hybrid', topK: FLOOD_TOP_K } }),
    );
  };
  const decoder = new FrameDecoder(64 * 1024 * 1024);
  socket.on('data', (chunk: Buffer) => {
    for (const decoded of decoder.push(chunk)) {
      if (!decoded.ok) continue;
      const frame = decoded.frame;
      if (frame.hello !== undefined) continue;
      if (frame.id === null) {
        // A connection-wide error: an idle one closed to make room says so before the server hangs up.
        client.evicted = /idle the longest/.test(String((frame.error as { message?: unknown })?.message));
        continue;
      }
      const kind =
        frame.ok === true ? 'ok' : String((frame.error as { kind?: unknown } | undefined)?.kind ?? '?');
      replies.set(kind, (replies.get(kind) ?? 0) + 1);
      send(); // one answered, one more: the pipeline stays full
    }
  });
  const client: LoadClient = {
    socket,
    replies,
    evicted: false,
    closed,
    stopSending: () => {
      sending = false;
    },
  };
  if (flood !== undefined) for (let i = 0; i < flood.pipeline; i++) send();
  return client;
}

async function measure(path: string, queries: readonly string[], count: number): Promise<number[]> {
  const client = new IpcClient(path, { connectTimeoutMs: 30_000, requestTimeoutMs: 120_000 });
  try {
    for (let i = 0; i < WARMUP; i++) await client.search(queries[i % queries.length] as string, { topK: 10 });
    const out: number[] = [];
    for (let i = 0; i < count; i++) {
      const t = performance.now();
      await client.search(queries[(i * 7) % queries.length] as string, { mode: 'hybrid', topK: 10 });
      out.push(performance.now() - t);
    }
    return out;
  } finally {
    await client.close();
  }
}

export async function ipcLoad(): Promise<void> {
  const base = mkdtempSync(join(tmpdir(), 'embecode-bench-load-'));
  let owner: Owner | undefined;
  const clients: LoadClient[] = [];
  try {
    const repoDir = join(base, 'repo');
    const repo = await generateRepo(repoDir, DEFINITIONS);
    const queries = repo.identifiers.map((i) => i.name.replace(/([a-z])([A-Z])/g, '$1 $2'));
    owner = await startOwner(repoDir, join(base, 'index.db'));
    const pid = owner.pid;

    const alone = await measure(owner.socket, queries, SEARCHES);
    const idleRss = procStatusKib(pid, 'VmRSS');
    const fdsBefore = openFds(pid);

    for (let i = 0; i < IDLE; i++) clients.push(await openLoadClient(owner.socket, undefined));
    const flooders: LoadClient[] = [];
    for (let i = 0; i < FLOODERS; i++) {
      flooders.push(await openLoadClient(owner.socket, { pipeline: PIPELINE, queries }));
    }
    clients.push(...flooders);
    let peakRss = procStatusKib(pid, 'VmRSS');
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, procStatusKib(pid, 'VmRSS'));
    }, 25);
    let loaded: number[];
    try {
      await sleep(500); // the flood's queues fill first
      loaded = await measure(owner.socket, queries, SEARCHES);
    } finally {
      clearInterval(sampler);
    }
    const hwm = procStatusKib(pid, 'VmHWM');
    const idleClients = clients.slice(0, IDLE);
    const idleEvicted = idleClients.filter((c) => c.evicted).length;
    const idleClosed = idleClients.filter((c) => c.socket.destroyed || c.socket.readableEnded).length;

    for (const c of flooders) c.stopSending();
    for (const c of clients) c.socket.destroy();
    await Promise.all(clients.map((c) => c.closed));
    // The owner lets go of each connection at once; give its event loop a moment to get there.
    let fdsAfter = openFds(pid);
    for (let i = 0; i < 100 && fdsAfter > fdsBefore; i++) {
      await sleep(50);
      fdsAfter = openFds(pid);
    }
    const flood = new Map<string, number>();
    for (const c of flooders) for (const [k, n] of c.replies) flood.set(k, (flood.get(k) ?? 0) + n);
    const crashed = !owner.alive();

    const p = (v: number[], q: number) => percentile(v, q);
    console.log(
      `owner: embecode serve pid ${pid}, ${DEFINITIONS} definitions; load: ${IDLE} idle + ${FLOODERS} flooding x ${PIPELINE} pipelined top-${FLOOD_TOP_K} hybrid; well-behaved client: ${SEARCHES} hybrid top-10 searches, one at a time`,
    );
    console.log('well-behaved client   p50 ms   p99 ms    max ms');
    console.log(
      `  alone             ${ms(p(alone, 0.5)).padStart(8)} ${ms(p(alone, 0.99)).padStart(8)} ${ms(Math.max(...alone)).padStart(9)}`,
    );
    console.log(
      `  under load        ${ms(p(loaded, 0.5)).padStart(8)} ${ms(p(loaded, 0.99)).padStart(8)} ${ms(Math.max(...loaded)).padStart(9)}`,
    );
    console.log(
      `  p99 under load / alone: ${(p(loaded, 0.99) / p(alone, 0.99)).toFixed(1)}x (target <= 5x); p50: ${(p(loaded, 0.5) / p(alone, 0.5)).toFixed(1)}x`,
    );
    console.log(
      `owner RSS: idle ${mib(idleRss)} MiB, peak under load ${mib(peakRss)} MiB (${(peakRss / idleRss).toFixed(2)}x, target <= 2x); VmHWM ${mib(hwm)} MiB (includes indexing)`,
    );
    console.log(
      `flood replies: ${[...flood].map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}; idle connections closed by the owner: ${idleClosed} of ${IDLE} (${idleEvicted} to make room for new ones, the others after the idle timeout)`,
    );
    console.log(
      `owner descriptors: ${fdsBefore} before the clients, ${fdsAfter} after they left (${fdsAfter - fdsBefore} leaked); owner crashed: ${crashed ? 'YES' : 'no'}`,
    );
    const stopAt = performance.now();
    const stopped = await owner.stop();
    console.log(
      `owner stop after SIGTERM: exit ${stopped.code ?? stopped.signal} in ${ms(performance.now() - stopAt)} ms${stopped.code === 0 ? '' : `; stderr: ${owner.stderrTail().slice(-600)}`}`,
    );
  } finally {
    for (const c of clients) c.socket.destroy();
    if (owner?.alive()) await owner.stop();
    rmSync(base, { recursive: true, force: true });
  }
}
