/**
 * A real process that runs for owner of a project, for the election tests and bench.
 *
 *   node dist/helpers/election-candidate.js STATE_DIR [--interval-ms N] [--no-watch]
 *   node dist/helpers/election-candidate.js --rounds
 *
 * Default mode: tries once to become the owner of STATE_DIR and prints one JSON line,
 * `{"pid":N,"role":"owner"}` or `{"pid":N,"role":"reader","ownerPid":M}`. An owner then holds the lock;
 * a reader watches (polling every N ms, default 50) and, when it takes over, prints
 * `{"pid":N,"role":"owner","tookOverAfterMs":T,"at":EPOCH_MS}` (T counted from the start of the watch,
 * EPOCH_MS the moment of the takeover, sub-millisecond, comparable with the parent's clock).
 * With --no-watch a reader just waits.
 *
 * --rounds mode, for many races with processes started once: prints `{"pid":N,"role":"ready"}`, then
 * for each stdin line `go DIR` tries once and prints its role line, and for `release` gives up a lease
 * it holds and prints `{"pid":N,"released":true}`.
 *
 * Every line carries `at`. Exits 0 when stdin closes, after releasing what it holds. An error prints
 * `{"pid":N,"role":"error","kind":K,"error":"one line"}` on stdout, the same line on stderr, and exits 1.
 */
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import { type OwnerLease, tryBecomeOwner, watchForTakeover } from '../src/election/election.js';
import { EmbecodeError } from '../src/errors.js';

const USAGE =
  'usage: election-candidate STATE_DIR [--interval-ms N] [--no-watch] | election-candidate --rounds';

export interface CandidateArgs {
  readonly mode: 'once' | 'rounds';
  readonly dir?: string;
  readonly intervalMs: number;
  readonly watch: boolean;
}

export function parseCandidateArgs(argv: readonly string[]): CandidateArgs {
  let dir: string | undefined;
  let intervalMs = 50;
  let watch = true;
  let rounds = false;
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--rounds') rounds = true;
    else if (arg === '--no-watch') watch = false;
    else if (arg === '--interval-ms') {
      const value = Number(argv[++i]);
      if (!Number.isFinite(value) || value <= 0) {
        throw new EmbecodeError('usage', `--interval-ms needs a positive number; ${USAGE}`);
      }
      intervalMs = value;
    } else if (arg.startsWith('--')) throw new EmbecodeError('usage', `unknown option ${arg}; ${USAGE}`);
    else if (dir === undefined) dir = arg;
    else throw new EmbecodeError('usage', `unexpected argument ${arg}; ${USAGE}`);
  }
  if (rounds) return { mode: 'rounds', intervalMs, watch };
  if (dir === undefined) throw new EmbecodeError('usage', USAGE);
  return { mode: 'once', dir, intervalMs, watch };
}

const now = (): number => performance.timeOrigin + performance.now();

function say(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ pid: process.pid, ...message, at: now() })}\n`);
}

function fail(error: unknown): never {
  const kind = error instanceof EmbecodeError ? error.kind : 'internal';
  const text = (error instanceof Error ? error.message : String(error)).split('\n')[0] ?? '';
  say({ role: 'error', kind, error: text });
  process.stderr.write(`election-candidate: ${text}\n`);
  process.exit(1);
}

function stdinClosed(): Promise<void> {
  return new Promise((resolve) => {
    process.stdin.on('end', resolve);
    process.stdin.on('close', resolve);
    process.stdin.on('error', () => resolve());
    process.stdin.resume();
  });
}

async function once(dir: string, intervalMs: number, watch: boolean): Promise<void> {
  const closed = stdinClosed();
  const first = await tryBecomeOwner(dir);
  let lease: OwnerLease | undefined;
  let stopWatch = (): void => undefined;
  if (first.role === 'owner') {
    lease = first;
    say({ role: 'owner' });
  } else {
    say(first.ownerPid === undefined ? { role: 'reader' } : { role: 'reader', ownerPid: first.ownerPid });
    if (watch) {
      const started = performance.now();
      const watcher = watchForTakeover(dir, {
        intervalMs,
        onOwner: (taken) => {
          lease = taken;
          say({ role: 'owner', tookOverAfterMs: performance.now() - started });
        },
      });
      stopWatch = () => watcher.stop();
      watcher.result.catch(fail);
    }
  }
  await closed;
  stopWatch();
  await lease?.release();
}

async function rounds(): Promise<void> {
  let lease: OwnerLease | undefined;
  say({ role: 'ready' });
  const lines = createInterface({ input: process.stdin, crlfDelay: Number.POSITIVE_INFINITY });
  for await (const line of lines) {
    const [command, ...rest] = line.trim().split(' ');
    if (command === 'go') {
      if (lease !== undefined)
        throw new EmbecodeError('usage', '`go` while still owner: send `release` first');
      const result = await tryBecomeOwner(rest.join(' '));
      if (result.role === 'owner') {
        lease = result;
        say({ role: 'owner' });
      } else {
        say(
          result.ownerPid === undefined ? { role: 'reader' } : { role: 'reader', ownerPid: result.ownerPid },
        );
      }
    } else if (command === 'release') {
      await lease?.release();
      lease = undefined;
      say({ released: true });
    } else if (command !== '') {
      throw new EmbecodeError('usage', `unknown command ${JSON.stringify(line)}: go DIR | release`);
    }
  }
  await lease?.release();
}

async function main(): Promise<void> {
  const args = parseCandidateArgs(process.argv.slice(2));
  if (args.mode === 'rounds') await rounds();
  else await once(args.dir as string, args.intervalMs, args.watch);
  process.exit(0);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch(fail);
}
