#!/usr/bin/env node
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { EmbecodeError } from '../errors.js';
import { Database } from '../index/database.js';
import { messageOf } from '../index/duckdb-errors.js';
import { createDefaultEmbedder, embedderForIndex } from '../index/embedder.js';
import { prepareDbLocation, resolveDbPath } from '../index/index-location.js';
import { type IndexProgress, type IndexReport, indexProject } from '../index/indexer.js';
import { DEFAULT_TOP_K, Searcher } from '../index/search.js';
import { tokenize } from '../index/tokenizer.js';
import type { SearchMode, SearchResult } from '../index/types.js';
import { assertDirectory } from '../index/walker.js';
import { isRetryableIpcError } from '../ipc/errors.js';
import { serveCommand } from '../serve/command.js';
import { listServeProcesses, type OwnerView, throughOwnerOrDirect } from '../serve/role.js';
import { EXIT_OK, runCli } from './exit.js';

const PROG = 'embecode';
const MODES: readonly SearchMode[] = ['hybrid', 'vector', 'bm25'];
const MAX_TOP_K = 1000;
/** Without a TTY, one progress line per this many files. */
const PROGRESS_LINE_EVERY = 1000;

/** Parses argv (without `node` and the script) and runs the command; resolves to the exit code. */
async function main(argv: readonly string[]): Promise<number> {
  let exitCode = EXIT_OK;
  const program = new Command()
    .name(PROG)
    .description(
      'Local-first code search: index a project into DuckDB, then search it (hybrid, vector, bm25).',
    )
    .exitOverride()
    .configureOutput({
      // Commander's own error text and the help it prints on errors are replaced by one line.
      writeErr: () => undefined,
      outputError: () => undefined,
    })
    .showSuggestionAfterError(false);

  program
    .command('index')
    .description(
      'index DIR (default: the current directory), catching up on added, changed and deleted files',
    )
    .argument('[dir]', 'project directory', '.')
    .option('--db <path>', 'index file (default: per project, under $XDG_CACHE_HOME/embecode)')
    .option('--json', 'print the summary as one JSON object')
    .action(async (dir: string, opts: { db?: string; json?: boolean }) => {
      exitCode = await indexCommand(dir, opts);
    });

  program
    .command('search')
    .description('search the index of a project')
    .argument('<query>', 'words or identifiers to look for')
    .option('--db <path>', 'index file (default: the index of --dir)')
    .option('--dir <dir>', 'project whose default index to search', '.')
    .addOption(new Option('--mode <mode>', 'ranking').choices(MODES).default('hybrid'))
    .option('--top-k <n>', `number of results, 1 to ${MAX_TOP_K}`, parseTopK, DEFAULT_TOP_K)
    .option('--path <prefix>', 'only files whose project-relative path starts with PREFIX')
    .option('--json', 'print one JSON object: {query, mode, results}')
    .action(async (query: string, opts: SearchOpts) => {
      exitCode = await searchCommand(query, opts);
    });

  program
    .command('status')
    .description('show what an index holds')
    .option('--db <path>', 'index file (default: the index of --dir)')
    .option('--dir <dir>', 'project whose default index to describe', '.')
    .option('--json', 'print one JSON object')
    .action(async (opts: { db?: string; dir: string; json?: boolean }) => {
      exitCode = await statusCommand(opts);
    });

  program
    .command('serve')
    .description(
      'serve searches of DIR (default: the current directory) until stopped: the first serve process owns and indexes the index, later ones forward searches to it and take over when it dies',
    )
    .argument('[dir]', 'project directory', '.')
    .option('--db <path>', 'index file (default: per project, under $XDG_CACHE_HOME/embecode)')
    .option('--strategy <name>', 'how readers reach the owner', 'ipc')
    .option(
      '--reindex-every <seconds>',
      'as owner, catch up with the project this often (default: only at start and takeover)',
      parseSeconds,
    )
    .option('--json', 'also print each event (role changes, indexing) as one JSON object per line on stdout')
    .action(
      async (dir: string, opts: { db?: string; strategy: string; reindexEvery?: number; json?: boolean }) => {
        exitCode = await serveCommand(dir, opts, PROG);
      },
    );

  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return EXIT_OK;
      if (error.code === 'commander.help') {
        throw new EmbecodeError(
          'usage',
          `missing command: one of index, search, serve, status; see ${PROG} --help`,
        );
      }
    }
    throw error;
  }
  return exitCode;
}

function parseTopK(value: string): number {
  if (!/^\s*\d+\s*$/.test(value))
    throw new InvalidArgumentError(`--top-k must be a whole number, got '${value}'`);
  const n = Number(value);
  if (n < 1 || n > MAX_TOP_K) throw new InvalidArgumentError(`--top-k must be between 1 and ${MAX_TOP_K}`);
  return n;
}

function parseSeconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) {
    throw new InvalidArgumentError(`--reindex-every must be a number of seconds >= 0, got '${value}'`);
  }
  return n;
}

// ---------------------------------------------------------------------------------------- index

/** How long `embecode index` waits for a serve owner's catch-up (the owner's server may cut it sooner). */
const OWNER_CATCH_UP_TIMEOUT_MS = 10 * 60_000;

interface IndexSummary extends IndexReport {
  readonly dir: string;
  readonly db: string;
  readonly files: number;
  readonly totalChunks: number;
  /** `owner`: a running `embecode serve` owner caught up on request; `direct`: indexed here. */
  readonly via: 'owner' | 'direct';
  readonly ownerPid: number | null;
}

/**
 * While an `embecode serve` owner holds the index (its lock refuses a second writer), the owner is
 * asked to catch up and its summary printed; an owner shutting down is retried until it is gone
 * (then a successor answers, or this process indexes directly).
 */
async function indexCommand(dir: string, opts: { db?: string; json?: boolean }): Promise<number> {
  await assertDirectory(dir);
  const dbPath = await resolveDbPath({ db: opts.db, dir });
  await prepareDbLocation(dbPath);
  const project = resolve(dir);
  const routed = await throughOwnerOrDirect<IndexSummary>(dbPath, {
    viaOwner: async (client) => {
      const s = await client.catchUp(OWNER_CATCH_UP_TIMEOUT_MS).catch((error: unknown) => {
        if (isRetryableIpcError(error)) throw error;
        throw new EmbecodeError(
          'io',
          `embecode serve (pid ${client.serverPid ?? '?'}) owns ${dbPath} and did not catch up: ${messageOf(error)}; see its log, or run embecode status`,
          { cause: error },
        );
      });
      const { pid, files, totalChunks, added, updated, deleted, unchanged, skipped, chunks, elapsedMs } = s;
      return {
        dir: project,
        db: dbPath,
        added,
        updated,
        deleted,
        unchanged,
        skipped,
        chunks,
        elapsedMs,
        files,
        totalChunks,
        via: 'owner',
        ownerPid: pid,
      };
    },
    direct: () => indexDirectly(dir, project, dbPath),
  });
  const summary = routed.value;
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } else {
    const seconds = summary.elapsedMs / 1000;
    const rate = seconds > 0 ? Math.round(summary.chunks / seconds) : 0;
    const by = summary.via === 'owner' ? ` (caught up by embecode serve, pid ${summary.ownerPid})` : '';
    process.stdout.write(
      `indexed ${summary.dir} into ${dbPath}${by}\n` +
        `  ${summary.added} added, ${summary.updated} updated, ${summary.deleted} deleted, ` +
        `${summary.unchanged} unchanged, ${summary.skipped} skipped\n` +
        `  ${summary.chunks} chunks written in ${seconds.toFixed(2)} s (${rate} chunks/s); ` +
        `the index holds ${summary.files} files, ${summary.totalChunks} chunks\n`,
    );
  }
  return EXIT_OK;
}

async function indexDirectly(dir: string, project: string, dbPath: string): Promise<IndexSummary> {
  const fresh = !existsSync(dbPath);
  const preferred = createDefaultEmbedder();
  const db = await Database.open(dbPath, {
    mode: 'owner',
    embedder: preferred.name,
    ...(fresh ? { dimensions: preferred.dimensions } : {}),
  });
  try {
    const embedder = embedderForIndex(db, preferred);
    const progress = progressReporter();
    const report = await indexProject(dir, db, embedder, {
      onProgress: progress.update,
      onSkip: (path, reason, detail) => {
        if (reason === 'unreadable') progress.warn(`warning: skipped ${path}: ${detail}`);
      },
      onWarning: (message) => progress.warn(`warning: ${message}`),
    });
    progress.finish();
    const stats = await db.stats();
    return {
      dir: project,
      db: dbPath,
      ...report,
      elapsedMs: Math.round(report.elapsedMs),
      files: stats.files,
      totalChunks: stats.chunks,
      via: 'direct',
      ownerPid: null,
    };
  } finally {
    db.close();
  }
}

/** Live progress on a terminal (one rewritten line), a plain line every N files otherwise. */
function progressReporter() {
  const tty = process.stderr.isTTY === true;
  let lastLineAt = 0;
  let live = false;
  const clear = () => {
    if (live) process.stderr.write('\r\x1b[K');
    live = false;
  };
  const text = (p: IndexProgress) =>
    `${p.filesSeen} files seen, ${p.filesWritten} written, ${p.chunksWritten} chunks, ` +
    `${p.skipped} skipped, ${(p.elapsedMs / 1000).toFixed(1)} s`;
  return {
    update(p: IndexProgress) {
      if (p.done) return;
      if (tty) {
        process.stderr.write(`\r\x1b[K${PROG}: ${text(p)}`);
        live = true;
      } else if (p.filesSeen >= lastLineAt + PROGRESS_LINE_EVERY) {
        lastLineAt = p.filesSeen - (p.filesSeen % PROGRESS_LINE_EVERY);
        process.stderr.write(`${PROG}: progress: ${text(p)}\n`);
      }
    },
    warn(message: string) {
      clear();
      process.stderr.write(`${PROG}: ${message}\n`);
    },
    finish: clear,
  };
}

// --------------------------------------------------------------------------------------- search

interface SearchOpts {
  db?: string;
  dir: string;
  mode: SearchMode;
  topK: number;
  path?: string;
  json?: boolean;
}

async function searchCommand(query: string, opts: SearchOpts): Promise<number> {
  if (query.trim() === '') {
    throw new EmbecodeError('usage', 'empty query: give words or identifiers to search for');
  }
  const pathPrefix = opts.path === undefined ? undefined : normalisePrefix(opts.path);
  const dbPath = await resolveDbPath({ db: opts.db, dir: opts.dir });
  const searchOptions = {
    mode: opts.mode,
    topK: opts.topK,
    ...(pathPrefix === undefined ? {} : { pathPrefix }),
  };
  // While a live owner (`embecode serve`) holds the index, its lock refuses a direct open: ask it.
  const { value: results } = await throughOwnerOrDirect<SearchResult[]>(dbPath, {
    viaOwner: (client) => client.search(query, searchOptions),
    direct: async () => {
      const db = await Database.open(dbPath, { mode: 'reader' });
      try {
        const embedder = embedderForIndex(db);
        return tokenize(query).length === 0
          ? []
          : await new Searcher(db, embedder).search(query, searchOptions);
      } finally {
        db.close();
      }
    },
  });
  if (tokenize(query).length === 0) {
    process.stderr.write(`${PROG}: note: the query has no words or identifiers to search for; no results\n`);
  }
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ query, mode: opts.mode, results })}\n`);
  } else if (results.length === 0) {
    process.stdout.write('no results\n');
  } else {
    const lines: string[] = [];
    results.forEach((r, i) => {
      lines.push(`${i + 1}. ${r.path}:${r.startLine}-${r.endLine}  (score ${formatScore(r.score)})`);
      for (const line of r.preview.split('\n')) lines.push(`     ${line}`);
    });
    process.stdout.write(`${lines.join('\n')}\n`);
  }
  return EXIT_OK;
}

/** `./src/` and `src` both mean the paths under `src/` as stored (project-relative, forward slashes). */
function normalisePrefix(prefix: string): string {
  return prefix.replaceAll('\\', '/').replace(/^(\.\/)+/, '');
}

function formatScore(score: number): string {
  return Math.abs(score) >= 1 ? score.toFixed(3) : score.toPrecision(3);
}

// --------------------------------------------------------------------------------------- status

type IndexFacts = {
  files: number;
  chunks: number;
  postings: number | null;
  dimensions: number | null;
  embedder: string | null;
};

async function statusCommand(opts: { db?: string; dir: string; json?: boolean }): Promise<number> {
  const dbPath = await resolveDbPath({ db: opts.db, dir: opts.dir });
  // While a live owner holds the index, its lock refuses a direct open: ask the owner instead.
  const routed = await throughOwnerOrDirect<IndexFacts>(dbPath, {
    viaOwner: async (client) => {
      const s = await client.status();
      return {
        files: s.files,
        chunks: s.chunks,
        postings: typeof s.postings === 'number' ? s.postings : null,
        dimensions: typeof s.dimensions === 'number' ? s.dimensions : null,
        embedder: typeof s.embedder === 'string' ? s.embedder : null,
      };
    },
    direct: async () => {
      const db = await Database.open(dbPath, { mode: 'reader' });
      try {
        return await db.stats();
      } finally {
        db.close();
      }
    },
  });
  const stats = routed.value;
  const serving = await listServeProcesses(dbPath);
  const sizeBytes = (await fileSize(dbPath)) + (await fileSize(`${dbPath}.wal`));
  const status = {
    db: dbPath,
    files: stats.files,
    chunks: stats.chunks,
    postings: stats.postings,
    dimensions: stats.dimensions,
    embedder: stats.embedder,
    sizeBytes,
    // The role a process starting on this index now would get: reader while a live owner exists.
    role: routed.owner.pid === undefined ? 'owner' : 'reader',
    owner: ownerJson(routed.owner),
    via: routed.via,
    serve: serving,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
  } else {
    const owner = status.owner;
    const servingText = serving.map((p) => `pid ${p.pid} ${p.role}`).join(', ');
    process.stdout.write(
      `index      ${dbPath}\n` +
        `files      ${stats.files}\n` +
        `chunks     ${stats.chunks}\n` +
        `dimensions ${stats.dimensions ?? '?'} (${stats.embedder ?? '?'})\n` +
        `size       ${(sizeBytes / (1024 * 1024)).toFixed(1)} MiB\n` +
        `owner      ${owner === null ? 'none (no serve process owns this index)' : `pid ${owner.pid}${owner.since === null ? '' : ` since ${owner.since}`}`}\n` +
        `role       ${status.role} (what a process starting now would be)\n` +
        `serving    ${servingText === '' ? 'none' : servingText}\n`,
    );
  }
  return EXIT_OK;
}

function ownerJson(owner: OwnerView) {
  if (owner.pid === undefined) return null;
  return {
    pid: owner.pid,
    since: owner.since ?? null,
    ready: owner.ready,
    socket: owner.socket,
    record: owner.record,
  };
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

// ---------------------------------------------------------------------------------------- shared

await runCli(() => main(process.argv.slice(2)), PROG);
