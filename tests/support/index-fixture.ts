import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Database } from '../../src/index/database.js';
import { createDefaultEmbedder, embedderForName } from '../../src/index/embedder.js';
import { indexProject } from '../../src/index/indexer.js';
import { Searcher } from '../../src/index/search.js';
import type { SearchResult } from '../../src/index/types.js';

/** A small project whose files each have words no other file has, so a hit names its file. */
export const FIXTURE_FILES: Readonly<Record<string, string>> = {
  'src/user-profile.ts': [
    'export interface UserProfile { id: string; displayName: string }',
    '',
    'export async function fetchUserProfile(id: string): Promise<UserProfile> {',
    "  const response = await fetch('/api/users/' + encodeURIComponent(id) + '/profile');",
    '  return (await response.json()) as UserProfile;',
    '}',
    '',
  ].join('\n'),
  'src/geometry.ts': [
    'export function polygonArea(points: [number, number][]): number {',
    '  let twiceArea = 0;',
    '  for (let i = 0; i < points.length; i++) {',
    '    const [x1, y1] = points[i];',
    '    const [x2, y2] = points[(i + 1) % points.length];',
    '    twiceArea += x1 * y2 - x2 * y1;',
    '  }',
    '  return Math.abs(twiceArea) / 2;',
    '}',
    '',
  ].join('\n'),
  'docs/retry.md': '# Retry policy\n\nRequests are retried with exponential backoff and jitter.\n',
};

/** Queries that find `src/user-profile.ts` first, by keywords and by vector. */
export const PROFILE_QUERIES = { bm25: 'fetchUserProfile', vector: 'fetch user profile' } as const;

export interface BuiltIndex {
  readonly projectDir: string;
  readonly dbPath: string;
}

/** Writes FIXTURE_FILES under `dir/project` and indexes them into `dir/index.db`, then closes it. */
export async function buildIndex(dir: string): Promise<BuiltIndex> {
  const projectDir = join(dir, 'project');
  for (const [path, content] of Object.entries(FIXTURE_FILES)) {
    const file = join(projectDir, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
  const dbPath = join(dir, 'index.db');
  const embedder = createDefaultEmbedder();
  const db = await Database.open(dbPath, {
    mode: 'owner',
    dimensions: embedder.dimensions,
    embedder: embedder.name,
  });
  try {
    await indexProject(projectDir, db, embedder);
  } finally {
    await db.close();
  }
  return { projectDir, dbPath };
}

export interface ReaderSearch {
  readonly vector: readonly SearchResult[];
  readonly bm25: readonly SearchResult[];
}

/**
 * The naive reader: opens the index READ_ONLY in this process (embecode's Database, the embedder
 * the index names), runs one vector and one BM25 search, and closes it again.
 */
export async function searchReadOnly(
  dbPath: string,
  queries: { readonly bm25: string; readonly vector: string },
): Promise<ReaderSearch> {
  const db = await Database.open(dbPath, { mode: 'reader' });
  try {
    const embedder = embedderForName(db.embedder);
    if (embedder === undefined) throw new Error(`index ${dbPath} names unknown embedder ${db.embedder}`);
    const searcher = new Searcher(db, embedder);
    const vector = await searcher.search(queries.vector, { mode: 'vector' });
    const bm25 = await searcher.search(queries.bm25, { mode: 'bm25' });
    return { vector, bm25 };
  } finally {
    await db.close();
  }
}
