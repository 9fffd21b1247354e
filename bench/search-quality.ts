import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Database } from '../src/index/database.js';
import { createDefaultEmbedder } from '../src/index/embedder.js';
import { prepareFile } from '../src/index/prepare.js';
import { Searcher } from '../src/index/search.js';
import type { SearchMode } from '../src/index/types.js';
import { ALWAYS_SKIPPED_DIRS } from '../src/index/walker.js';
import { generateRepo, readRepoFiles } from './synthetic-repo.js';

/**
 * Search quality: hit@1, hit@3 and MRR (over the top 10) of each mode on labelled query sets,
 * next to the figures the ranking before issue 13 scored on the same sets.
 *
 * Sets: identifiers of this repository (each defined in exactly one file) and natural-language
 * questions about it (answers judged by reading the code), both in bench/data/search-quality-queries.json;
 * and, over a generated repository (synthetic-repo.ts, seed 42), its sampled identifiers and the
 * same identifiers written as separate words ("get active user token 3f"). A query's hit is a
 * result in one of its answer files.
 *
 * The baseline column is read from bench/data/search-quality-baseline.json, recorded with the old
 * ranking (SEARCH_QUALITY_RECORD=1 rewrites it from whatever ranking is built).
 * SEARCH_QUALITY_MISSES=1 prints each query whose first result is not an answer, with the top 3. This repository
 * changes as it is worked on, so its baseline is of the tree as it was when recorded.
 */

const MODES: readonly SearchMode[] = ['bm25', 'vector', 'hybrid'];
const DEPTH = 10;
const SYNTHETIC_DEFINITIONS = 3000;

interface LabelledQuery {
  readonly query: string;
  readonly answers: readonly string[];
}

interface QuerySet {
  readonly name: string;
  readonly queries: readonly LabelledQuery[];
}

interface Scores {
  readonly hit1: number;
  readonly hit3: number;
  readonly mrr: number;
}

type Figures = Record<string, Record<string, Scores>>;

const packageRoot = (() => {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) dir = dirname(dir);
  return dir;
})();
const DATA_DIR = join(packageRoot, 'bench', 'data');
const QUERIES_FILE = join(DATA_DIR, 'search-quality-queries.json');
const BASELINE_FILE = join(DATA_DIR, 'search-quality-baseline.json');

/** This repository's files as the index would see them, minus the labels (they name every answer). */
function repositoryFiles(): { path: string; content: string }[] {
  const files: { path: string; content: string }[] = [];
  const walk = (at: string) => {
    for (const name of readdirSync(at).sort()) {
      const full = join(at, name);
      const path = relative(packageRoot, full);
      if (statSync(full).isDirectory()) {
        if (!ALWAYS_SKIPPED_DIRS.has(name) && !name.startsWith('.') && path !== 'bench/data') walk(full);
      } else if (/\.(ts|js|md|json)$/.test(name) && name !== 'package-lock.json') {
        files.push({ path, content: readFileSync(full, 'utf8') });
      }
    }
  };
  walk(packageRoot);
  return files;
}

async function withIndex<T>(
  files: readonly { path: string; content: string }[],
  use: (searcher: Searcher) => Promise<T>,
): Promise<T> {
  const base = await mkdtemp(join(tmpdir(), 'embecode-bench-quality-'));
  const embedder = createDefaultEmbedder();
  try {
    const db = await Database.open(join(base, 'index.db'), {
      mode: 'owner',
      dimensions: embedder.dimensions,
      embedder: embedder.name,
    });
    try {
      for (let i = 0; i < files.length; i += 200) {
        const batch = files.slice(i, i + 200);
        await db.upsertFiles(await Promise.all(batch.map((f) => prepareFile(f.path, f.content, embedder))));
      }
      return await use(new Searcher(db, embedder));
    } finally {
      await db.close();
    }
  } finally {
    await rm(base, { recursive: true, force: true });
  }
}

async function score(searcher: Searcher, set: QuerySet, mode: SearchMode): Promise<Scores> {
  let hit1 = 0;
  let hit3 = 0;
  let reciprocal = 0;
  for (const { query, answers } of set.queries) {
    const results = await searcher.search(query, { mode, topK: DEPTH });
    const rank = results.findIndex((r) => answers.includes(r.path));
    if (rank !== 0 && process.env.SEARCH_QUALITY_MISSES === '1') {
      const got = results.slice(0, 3).map((r) => `${r.path}:${r.startLine} ${r.score.toFixed(4)}`);
      console.log(`miss ${set.name} ${mode} "${query}" (rank ${rank + 1}): ${got.join(' | ')}`);
    }
    if (rank === 0) hit1++;
    if (rank >= 0 && rank < 3) hit3++;
    if (rank >= 0) reciprocal += 1 / (rank + 1);
  }
  const n = set.queries.length;
  return { hit1: hit1 / n, hit3: hit3 / n, mrr: reciprocal / n };
}

/** Identifiers the generator sampled that occur in exactly one file, so each has one right answer. */
function syntheticSets(
  files: readonly { path: string; content: string }[],
  identifiers: readonly { name: string; path: string }[],
): QuerySet[] {
  const unique = identifiers.filter(
    ({ name }) => files.filter((f) => new RegExp(`\\b${name}\\b`).test(f.content)).length === 1,
  );
  const asWords = (name: string) =>
    name
      .replace(/_/g, ' ')
      .replace(/([a-z])([A-Z])/g, '$1 $2')
      .replace(/([a-z])([0-9])/g, '$1 $2')
      .toLowerCase();
  return [
    { name: 'synthetic identifiers', queries: unique.map((i) => ({ query: i.name, answers: [i.path] })) },
    { name: 'synthetic words', queries: unique.map((i) => ({ query: asWords(i.name), answers: [i.path] })) },
  ];
}

const percent = (x: number) => `${(100 * x).toFixed(0)}%`;

export async function searchQuality(): Promise<void> {
  const labels = JSON.parse(readFileSync(QUERIES_FILE, 'utf8')) as {
    identifiers: LabelledQuery[];
    questions: LabelledQuery[];
  };
  const figures: Figures = {};
  const counts = new Map<string, number>();
  const measure = async (sets: readonly QuerySet[], searcher: Searcher) => {
    for (const set of sets) {
      figures[set.name] = {};
      counts.set(set.name, set.queries.length);
      for (const mode of MODES)
        (figures[set.name] as Record<string, Scores>)[mode] = await score(searcher, set, mode);
    }
  };
  const own: QuerySet[] = [
    { name: 'repo identifiers', queries: labels.identifiers },
    { name: 'repo questions', queries: labels.questions },
  ];
  await withIndex(repositoryFiles(), (searcher) => measure(own, searcher));
  const synthetic = await mkdtemp(join(tmpdir(), 'embecode-bench-quality-repo-'));
  try {
    const repo = await generateRepo(synthetic, SYNTHETIC_DEFINITIONS);
    const files = readRepoFiles(synthetic);
    await withIndex(files, (searcher) => measure(syntheticSets(files, repo.identifiers), searcher));
  } finally {
    await rm(synthetic, { recursive: true, force: true });
  }

  if (process.env.SEARCH_QUALITY_RECORD === '1') {
    await writeFile(BASELINE_FILE, `${JSON.stringify(figures, null, 2)}\n`);
    console.log(`recorded ${BASELINE_FILE}`);
  }
  const baseline: Figures = existsSync(BASELINE_FILE) ? JSON.parse(readFileSync(BASELINE_FILE, 'utf8')) : {};
  const header = ['set', 'queries', 'mode', 'hit@1', 'hit@3', 'MRR', 'base hit@1', 'base hit@3', 'base MRR'];
  const rows: string[][] = [];
  for (const [set, byMode] of Object.entries(figures)) {
    for (const mode of MODES) {
      const now = byMode[mode] as Scores;
      const before = baseline[set]?.[mode];
      rows.push([
        set,
        String(counts.get(set) ?? ''),
        mode,
        percent(now.hit1),
        percent(now.hit3),
        now.mrr.toFixed(3),
        before === undefined ? '-' : percent(before.hit1),
        before === undefined ? '-' : percent(before.hit3),
        before === undefined ? '-' : before.mrr.toFixed(3),
      ]);
    }
  }
  const table = [header, ...rows];
  const widths = header.map((_, c) => Math.max(...table.map((r) => (r[c] ?? '').length)));
  const line = (r: readonly string[]) =>
    r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c] ?? 0) : cell.padStart(widths[c] ?? 0))).join('  ');
  console.log(
    `\nSearch quality (top ${DEPTH}; base = ranking before issue 13, ${relative(packageRoot, BASELINE_FILE)})`,
  );
  console.log(line(header));
  console.log(widths.map((w) => '-'.repeat(w)).join('  '));
  for (const r of rows) console.log(line(r));
}
