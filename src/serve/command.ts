import { realpath } from 'node:fs/promises';
import { EmbecodeError } from '../errors.js';
import { resolveDbPath } from '../index/index-location.js';
import { assertDirectory } from '../index/walker.js';
import { type ServeEvent, ServeProcess } from './serve.js';
import { serveTransport } from './transport.js';

export interface ServeCommandOptions {
  readonly db?: string;
  readonly strategy: string;
  readonly json?: boolean;
  /** Seconds between catch-up runs as owner; 0 or undefined: only at start and takeover. */
  readonly reindexEvery?: number;
}

const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
/** After a clean stop, a handle someone forgot must not keep the process alive for ever. */
const EXIT_FALLBACK_MS = 3_000;

/**
 * `embecode serve [DIR]`: runs a ServeProcess until SIGINT, SIGTERM or SIGHUP, then shuts down
 * cleanly (index closed, sockets removed, lease released) and resolves 0. A fatal error (a corrupt
 * index, a takeover that cannot open the index) is thrown after the clean-up, for runCli to print as
 * one line.
 *
 * Output: one line on stderr for each role change and each catch-up (`<prog> serve: ...`); with
 * `--json`, also one JSON object per event on stdout (`{"event":"role",...}`, `indexed`,
 * `index-failed`, `stopped`), for tools that start serve and want its socket and role.
 *
 * SIGHUP stops rather than reloads: the process-wide clean-up (src/process/cleanup.ts) treats a
 * hang-up as the end of the process and removes the socket and owner record at once.
 */
export async function serveCommand(dir: string, opts: ServeCommandOptions, prog: string): Promise<number> {
  const transport = serveTransport(opts.strategy);
  const reindexEvery = opts.reindexEvery ?? 0;
  if (!Number.isFinite(reindexEvery) || reindexEvery < 0) {
    throw new EmbecodeError('usage', `--reindex-every must be a number of seconds >= 0, got ${reindexEvery}`);
  }
  await assertDirectory(dir);
  const dbPath = await resolveDbPath({ db: opts.db, dir });
  const project = await realpath(dir);
  const say = (line: string) => process.stderr.write(`${prog} serve: ${line}\n`);

  const serve = new ServeProcess({
    dir: project,
    dbPath,
    transport,
    reindexEveryMs: Math.round(reindexEvery * 1000),
    log: (line) => say(`pid ${process.pid}: warning: ${line.replace(/\s*\n\s*/g, ' ')}`),
    onEvent: (event) => {
      say(describeEvent(event));
      if (opts.json) process.stdout.write(`${JSON.stringify(event)}\n`);
    },
  });
  // Installed before anything else and never removed: src/process/cleanup.ts re-raises the signal
  // after its own synchronous clean-up, and this listener must still be there to absorb it.
  const onSignal = (signal: NodeJS.Signals) => void serve.stop(signal);
  for (const signal of SIGNALS) process.on(signal, onSignal);

  try {
    await serve.start();
    const outcome = await serve.finished;
    if (outcome.error !== undefined) throw outcome.error;
    return 0;
  } finally {
    setTimeout(() => process.exit(process.exitCode ?? 0), EXIT_FALLBACK_MS).unref();
  }
}

function describeEvent(event: ServeEvent): string {
  const who = `pid ${event.pid}`;
  switch (event.event) {
    case 'role':
      if (event.role === 'owner') {
        const how = event.takeover
          ? `took over as owner${event.previousOwnerPid === null ? '' : ` from pid ${event.previousOwnerPid}`}`
          : 'owner';
        return `${who}: ${how} of ${event.db}; serving ${event.ownerSocket} and ${event.socket}`;
      }
      return `${who}: reader; owner is ${event.ownerPid === null ? 'starting' : `pid ${event.ownerPid}`}; forwarding searches from ${event.socket}`;
    case 'indexed':
      return (
        `${who}: indexed (${event.reason}): ${event.added} added, ${event.updated} updated, ` +
        `${event.deleted} deleted, ${event.unchanged} unchanged, ${event.skipped} skipped in ` +
        `${(event.elapsedMs / 1000).toFixed(2)} s; the index holds ${event.files} files, ${event.totalChunks} chunks`
      );
    case 'index-failed':
      return `${who}: indexing (${event.reason}) failed, still serving what is indexed: ${event.error}`;
    case 'stopped':
      return `${who}: stopped (${event.why})`;
  }
}
