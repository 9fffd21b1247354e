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
import { type MovedFile, moveIndexAside } from '../index/rebuild.js';
import { DEFAULT_TOP_K, Searcher } from '../index/search.js';
import { MAX_TERM_LENGTH, MIN_TERM_LENGTH, tokenize } from '../index/tokenizer.js';
import type { SearchMode, SearchResult } from '../index/types.js';
import { assertDirectory, DEFAULT_MAX_FILE_BYTES, type SkipReason } from '../index/walker.js';
import { isRetryableIpcError } from '../ipc/errors.js';
import { serveCommand } from '../serve/command.js';
import {
  listServeProcesses,
  OwnerNotAnsweringError,
  type OwnerView,
  type Routed,
  throughOwnerOrDirect,
} from '../serve/role.js';
import { EXIT_OK, EXIT_USAGE, oneLine, runCli } from './exit.js';

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
    .option('--json', 'print the summary as one JSON object (skipped files included)')
    .option('--verbose', 'name every skipped file and why on stderr')
    .option(
      '--max-file-size <size>',
      `skip files larger than this: bytes, or with K, M or G (1024-based), at most ${MAX_FILE_SIZE_TEXT}`,
      parseFileSize,
      DEFAULT_MAX_FILE_BYTES,
    )
    .option(
      '--rebuild',
      'move the existing index (and its WAL) aside, never deleting it, and index from scratch: the fix for a damaged index',
    )
    .action(async (dir: string, opts: IndexOpts) => {
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

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };
/** Files are read whole into memory; past a gigabyte that is a mistake, not a source file. */
const MAX_FILE_SIZE = 1024 ** 3;
const MAX_FILE_SIZE_TEXT = '1G';

function parseFileSize(value: string): number {
  const match = /^\s*(\d+)\s*([kmg]?)(?:i?b)?\s*$/i.exec(value);
  const bytes =
    match === null ? Number.NaN : Number(match[1]) * (SIZE_UNITS[(match[2] ?? '').toLowerCase()] ?? 1);
  if (!Number.isSafeInteger(bytes) || bytes < 1 || bytes > MAX_FILE_SIZE) {
    throw new InvalidArgumentError(
      `--max-file-size must be a size from 1 byte to ${MAX_FILE_SIZE_TEXT}, like 1048576, 512K or 4M; got '${value}'`,
    );
  }
  return bytes;
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
  /** Every file skipped, with its reason (direct only: a serve owner reports counts). */
  readonly skippedFiles?: readonly SkippedFile[];
  /** What `--rebuild` moved aside. */
  readonly movedAside: readonly MovedFile[];
}

interface IndexOpts {
  db?: string;
  json?: boolean;
  verbose?: boolean;
  maxFileSize: number;
  rebuild?: boolean;
}

interface SkippedFile {
  path: string;
  reason: SkipReason;
  detail: string;
}

/**
 * While an `embecode serve` owner holds the index (its lock refuses a second writer), the owner is
 * asked to catch up and its summary printed; an owner shutting down is retried until it is gone
 * (then a successor answers, or this process indexes directly).
 */
async function indexCommand(dir: string, opts: IndexOpts): Promise<number> {
  await assertDirectory(dir);
  const dbPath = await resolveDbPath({ db: opts.db, dir });
  await prepareDbLocation(dbPath);
  const project = resolve(dir);
  const progress = progressReporter();
  // Refused (locked) while a serve owner holds the index: the owner must stop first.
  const movedAside = opts.rebuild ? await moveIndexAside(dbPath) : [];
  for (const { from, to } of movedAside) progress.warn(`moved ${from} aside to ${to}`);
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
        movedAside,
      };
    },
    direct: () => indexDirectly(dir, project, dbPath, opts, progress, movedAside),
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

async function indexDirectly(
  dir: string,
  project: string,
  dbPath: string,
  opts: IndexOpts,
  progress: ReturnType<typeof progressReporter>,
  movedAside: readonly MovedFile[],
): Promise<IndexSummary> {
  const fresh = !existsSync(dbPath);
  const preferred = createDefaultEmbedder();
  // Read in full on open: a damaged index fails here, before any work, with the line that says
  // to use --rebuild.
  const db = await Database.open(dbPath, {
    mode: 'owner',
    verify: !fresh,
    embedder: preferred.name,
    ...(fresh ? { dimensions: preferred.dimensions } : {}),
  });
  try {
    const embedder = embedderForIndex(db, preferred);
    const skipped: SkippedFile[] = [];
    const report = await indexProject(dir, db, embedder, {
      maxFileBytes: opts.maxFileSize,
      onProgress: progress.update,
      onSkip: (path, reason, detail) => {
        skipped.push({ path, reason, detail });
        if (opts.verbose || reason === 'unreadable' || reason === 'protected') {
          progress.warn(`${opts.verbose ? 'skipped' : 'warning: skipped'} ${path}: ${reason} (${detail})`);
        }
      },
      onWarning: (message) => progress.warn(`warning: ${message}`),
    });
    // Once more at the end: blocks this run never read (files it left unchanged) are checked too.
    await db.verify();
    progress.finish();
    if (skipped.length > 0) progress.warn(skipSummary(skipped, opts));
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
      skippedFiles: skipped,
      movedAside,
    };
  } finally {
    await db.close();
  }
}

const SKIP_ORDER: readonly SkipReason[] = ['too-large', 'binary', 'not-utf8', 'unreadable', 'protected'];

/** One line: how many files were skipped for each reason, and where the names are. */
function skipSummary(skipped: readonly SkippedFile[], opts: IndexOpts): string {
  const counts = new Map<SkipReason, number>();
  for (const file of skipped) counts.set(file.reason, (counts.get(file.reason) ?? 0) + 1);
  const parts = SKIP_ORDER.filter((reason) => counts.has(reason)).map((reason) => {
    const n = counts.get(reason) ?? 0;
    return reason === 'too-large'
      ? `${n} too-large (over ${opts.maxFileSize} bytes, see --max-file-size)`
      : `${n} ${reason}`;
  });
  const where = opts.verbose ? 'named above' : opts.json ? 'named in skippedFiles' : '--verbose names them';
  return `skipped ${skipped.length} file${skipped.length === 1 ? '' : 's'}: ${parts.join(', ')}; ${where}`;
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
  if (query.length > MAX_QUERY_LENGTH) {
    throw new EmbecodeError(
      'usage',
      `query is ${query.length} characters long; the longest query searched is ${MAX_QUERY_LENGTH} characters: shorten it to the words that matter`,
    );
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
      const db = await Database.open(dbPath, { mode: 'reader', verify: await cheapToVerify(dbPath) });
      try {
        const embedder = embedderForIndex(db);
        return tokenize(query).length === 0
          ? []
          : await new Searcher(db, embedder).search(query, searchOptions);
      } finally {
        await db.close();
      }
    },
  });
  if (tokenize(query).length === 0) process.stderr.write(`${PROG}: note: ${whyNoTerms(query)}; no results\n`);
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

/**
 * A query of this many characters is refused rather than searched: every term is one more BM25
 * lookup and one more dimension of the query vector, and a pasted file is not a query.
 */
const MAX_QUERY_LENGTH = 4096;

/** Which limit of the tokenizer left the query with nothing to search for. */
function whyNoTerms(query: string): string {
  const words = query.match(/[A-Za-z0-9_]+/g) ?? [];
  if (words.length === 0)
    return 'the query has no letters or digits, so no words or identifiers to search for';
  const short = words.filter((w) => w.replaceAll('_', '').length < MIN_TERM_LENGTH).length;
  const long = words.filter((w) => w.length > MAX_TERM_LENGTH).length;
  const parts: string[] = [];
  if (short > 0)
    parts.push(
      `${short === words.length ? 'every word' : `${short} word(s)`} shorter than ${MIN_TERM_LENGTH} characters (the minimum word length)`,
    );
  if (long > 0)
    parts.push(
      `${long === words.length ? 'every word' : `${long} word(s)`} longer than ${MAX_TERM_LENGTH} characters (the maximum word length)`,
    );
  return `nothing in the query is indexed: ${parts.join(' and ')}`;
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

/** How long `status` waits for an owner that holds the index but does not answer (`search` waits 10 s). */
const STATUS_OWNER_WAIT_MS = 4_000;

async function statusCommand(opts: { db?: string; dir: string; json?: boolean }): Promise<number> {
  const dbPath = await resolveDbPath({ db: opts.db, dir: opts.dir });
  // While a live owner holds the index, its lock refuses a direct open: ask the owner instead. The
  // serve processes are listed meanwhile, and also when the owner does not answer: the listing is
  // what shows which process is stuck.
  const serveList = listServeProcesses(dbPath);
  serveList.catch(() => undefined); // awaited below; a failure of the routing comes first
  const routing = throughOwnerOrDirect<IndexFacts>(
    dbPath,
    {
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
        // Every block is read: `status` is where a person asks whether the index is sound.
        const db = await Database.open(dbPath, { mode: 'reader', verify: true });
        try {
          return await db.stats();
        } finally {
          await db.close();
        }
      },
    },
    { waitMs: STATUS_OWNER_WAIT_MS },
  ).catch((error: unknown) => {
    if (error instanceof OwnerNotAnsweringError) return error;
    throw error;
  });
  const [answered, serving] = await Promise.all([routing, serveList]);
  const unanswered = answered instanceof OwnerNotAnsweringError ? answered : undefined;
  const routed = unanswered === undefined ? (answered as Routed<IndexFacts>) : undefined;
  const nothing: IndexFacts = { files: 0, chunks: 0, postings: null, dimensions: null, embedder: null };
  const stats = routed?.value ?? nothing;
  const sizeBytes = (await fileSize(dbPath)) + (await fileSize(`${dbPath}.wal`));
  const owner = routed?.owner ?? (unanswered as OwnerNotAnsweringError).owner;
  const status = {
    db: dbPath,
    // Unknown (null) when the owner did not answer.
    files: routed === undefined ? null : stats.files,
    chunks: routed === undefined ? null : stats.chunks,
    postings: stats.postings,
    dimensions: stats.dimensions,
    embedder: stats.embedder,
    sizeBytes,
    // The role a process starting on this index now would get: reader while a live owner exists.
    role: owner.pid === undefined ? 'owner' : 'reader',
    owner: ownerJson(owner),
    via: routed?.via ?? null,
    ownerAnswering: unanswered === undefined,
    ...(unanswered === undefined ? {} : { error: unanswered.message }),
    serve: serving,
  };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
  } else {
    const owner = status.owner;
    const servingText = serving.map((p) => `pid ${p.pid} ${p.role}`).join(', ');
    process.stdout.write(
      `index      ${dbPath}\n` +
        `files      ${status.files ?? '? (the owner did not answer)'}\n` +
        `chunks     ${status.chunks ?? '?'}\n` +
        `dimensions ${stats.dimensions ?? '?'} (${stats.embedder ?? '?'})\n` +
        `size       ${(sizeBytes / (1024 * 1024)).toFixed(1)} MiB\n` +
        `owner      ${owner === null ? 'none (no serve process owns this index)' : `pid ${owner.pid}${owner.since === null ? '' : ` since ${owner.since}`}`}\n` +
        `role       ${status.role} (what a process starting now would be)\n` +
        `serving    ${servingText === '' ? 'none' : servingText}\n`,
    );
  }
  if (unanswered !== undefined) {
    process.stderr.write(`${PROG}: ${oneLine(unanswered.message)}\n`);
    return EXIT_USAGE;
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

/**
 * Up to this size (index and WAL) a direct search reads the whole index first, so that a damaged
 * block anywhere fails the search with the `--rebuild` line even when the query would not have
 * reached it; measured ~20-80 ms for a 3.5 MiB index on a loaded 2-core machine. Larger indexes
 * would pay a full scan per search: there `status`, `index` and `serve` read every block, and a
 * search reports the damage it meets itself.
 */
const VERIFY_ON_SEARCH_MAX_BYTES = 16 * 1024 * 1024;

async function cheapToVerify(dbPath: string): Promise<boolean> {
  return (await fileSize(dbPath)) + (await fileSize(`${dbPath}.wal`)) <= VERIFY_ON_SEARCH_MAX_BYTES;
}

async function fileSize(path: string): Promise<number> {
  return (await stat(path).catch(() => undefined))?.size ?? 0;
}

// ---------------------------------------------------------------------------------------- shared

await runCli(() => main(process.argv.slice(2)), PROG);
