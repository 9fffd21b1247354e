import type { Mutant } from './mutant.js';

/**
 * The seeded bugs the stress tester is judged by (see BRIEF.md, "How the tester itself is judged").
 * Each is the kind of slip a reviewer could wave through: a missing await, an inverted condition,
 * an off-by-one, a cache that forgets one path. Snippets are a line or two, chosen to survive the
 * edits other people make around them; `tests/bench/mutants-catalog.test.ts` turns red when one
 * no longer applies.
 *
 * Several are invisible to a tester that only asks "was the token there" (ranking, path filters,
 * atomicity of one upsert): they are here so that the table shows what the oracle cannot yet see.
 */
export const CATALOG: readonly Mutant[] = [
  // --- the owner service (every strategy's owner child runs it)
  {
    id: 'owner-acks-write-before-commit',
    strategy: 'ipc',
    description: 'the owner replies to a write as soon as it is queued, not when it has committed',
    file: 'src/child-protocol/owner-service.ts',
    find: 'await this.owner().write(prepared);',
    replace: 'void this.owner().write(prepared);',
  },
  {
    id: 'owner-acks-delete-before-publish',
    strategy: 'snapshot',
    description: 'the owner replies to a delete before the delete has committed and been published',
    file: 'src/child-protocol/owner-service.ts',
    find: "await this.owner().delete(stringListArg(args, 'paths'));",
    replace: "void this.owner().delete(stringListArg(args, 'paths'));",
  },

  // --- the index: writes
  {
    id: 'upsert-split-transaction',
    strategy: 'ipc',
    description:
      "an upsert commits the delete of a file's old rows, then inserts the new ones in a second transaction",
    file: 'src/index/database.ts',
    find: 'const added = await this.appendFiles(conn, files);',
    replace:
      "await conn.run('COMMIT');\n      await conn.run('BEGIN TRANSACTION');\n      const added = await this.appendFiles(conn, files);",
  },
  {
    id: 'delete-keeps-cached-vectors',
    strategy: 'ipc',
    description: "a delete does not remove the file's vectors from the owner's vector cache",
    file: 'src/index/database.ts',
    find: 'deleteRows(conn, paths, this.loaded !== undefined)',
    replace: 'deleteRows(conn, paths, false)',
  },
  {
    id: 'delete-leaves-postings',
    strategy: 'snapshot',
    description: "a delete removes a file's chunks and vectors but leaves its BM25 postings behind",
    file: 'src/index/database.ts',
    find: `\`DELETE FROM postings WHERE chunk_id IN (\${ids})\`,`,
    replace: `\`DELETE FROM postings WHERE chunk_id IN (\${ids}) AND chunk_id < 0\`,`,
  },
  {
    id: 'delete-other-files-rows',
    strategy: 'handoff',
    description:
      "the chunk ids a delete removes postings and vectors for are selected by an inverted condition: every other file's",
    file: 'src/index/database.ts',
    find: "const ids = 'SELECT id FROM chunks WHERE list_contains($1, path)';",
    replace: "const ids = 'SELECT id FROM chunks WHERE NOT list_contains($1, path)';",
  },
  {
    id: 'vector-cache-remove-off-by-one',
    strategy: 'ipc',
    description:
      'removing a vector from the cache moves the slot past the end into the hole, losing the last vector',
    file: 'src/index/vector-cache.ts',
    find: 'const last = --this.count;',
    replace: 'const last = this.count--;',
  },

  // --- the index: search
  {
    id: 'path-filter-substring',
    strategy: 'ipc',
    description: "BM25's path filter matches the prefix anywhere in the path (contains, not starts_with)",
    file: 'src/index/search.ts',
    find: `WHERE starts_with(c.path, \${prefixParam})`,
    replace: `WHERE contains(c.path, \${prefixParam})`,
  },
  {
    id: 'bm25-idf-without-one',
    strategy: 'snapshot',
    description: "BM25's idf drops the +1, so a term in more than half the chunks scores below zero",
    file: 'src/index/search.ts',
    find: 'sum(ln((corpus.n - df.df + 0.5) / (df.df + 0.5) + 1)',
    replace: 'sum(ln((corpus.n - df.df + 0.5) / (df.df + 0.5))',
  },
  {
    id: 'bm25-length-norm-inverted',
    strategy: 'handoff',
    description: "BM25's length normalisation is inverted (average length over the chunk's)",
    file: 'src/index/search.ts',
    find: 'c.length / corpus.avgdl',
    replace: 'corpus.avgdl / c.length',
  },
  {
    id: 'hybrid-top-k-off-by-one',
    strategy: 'ipc',
    description: 'hybrid search returns one result fewer than asked for',
    file: 'src/index/search.ts',
    find: '.sort(byHybridScore).slice(0, topK);',
    replace: '.sort(byHybridScore).slice(0, topK - 1);',
  },
  {
    id: 'hybrid-drops-bm25',
    strategy: 'snapshot',
    description: 'hybrid fusion is given only the vector list; the BM25 list is computed and ignored',
    file: 'src/index/search.ts',
    find: 'const ranked = rankHybrid(lexical, semantic, query,',
    replace: 'const ranked = rankHybrid([], semantic, query,',
  },

  // --- ipc
  {
    id: 'ipc-reader-memoises-results',
    strategy: 'ipc',
    description: 'the ipc reader caches each answer by query and options, and never forgets it',
    file: 'src/strategies/ipc.ts',
    find: 'return this.client.search(query, options);',
    replace: [
      'const memo = ((this as unknown as { memo?: Map<string, Promise<SearchResult[]>> }).memo ??= new Map());',
      '    const key = JSON.stringify([query, options]);',
      '    const known = memo.get(key) ?? this.client.search(query, options);',
      '    memo.set(key, known);',
      '    return known;',
    ].join('\n'),
  },
  {
    id: 'ipc-release-with-requests-in-flight',
    strategy: 'ipc',
    description: 'release closes the index without waiting for the socket server to finish its requests',
    file: 'src/strategies/ipc.ts',
    find: 'await server?.close();',
    replace: 'void server?.close();',
  },

  // --- snapshot
  {
    // The real bug the intruder found: closing any descriptor of a locked file drops the process's lock.
    id: 'snapshot-copies-with-copyfile',
    strategy: 'snapshot',
    description:
      'the snapshot owner publishes with fs.copyFile, which opens and closes the locked index and so drops its own lock',
    file: 'src/strategies/snapshot.ts',
    find: 'await copyFromDescriptor(this.heldDescriptor(), temp);',
    replace: "await (await import('node:fs/promises')).copyFile(this.context.dbPath, temp);",
  },
  {
    id: 'snapshot-publishes-before-commit',
    strategy: 'snapshot',
    description:
      'the snapshot owner publishes a copy before the write commits, so an ack is not yet published',
    file: 'src/strategies/snapshot.ts',
    find: 'await this.open().upsertFiles(files);\n      await this.publishCommitted();',
    replace: 'await this.publishCommitted();\n      await this.open().upsertFiles(files);',
  },
  {
    id: 'snapshot-copy-without-checkpoint',
    strategy: 'snapshot',
    description:
      'a publish copies the main file without a CHECKPOINT first: commits still in the WAL are missing',
    file: 'src/strategies/snapshot.ts',
    find: 'await db.checkpoint();',
    replace: "if (db.mode !== 'owner') await db.checkpoint();",
  },
  {
    id: 'snapshot-closes-retired-in-use',
    strategy: 'snapshot',
    description: 'a reader moving to a newer snapshot closes the old one while searches still run on it',
    file: 'src/strategies/snapshot.ts',
    find: 'const fresh = await this.openNewest(target, held?.seq ?? -1);',
    replace: 'const fresh = await this.openNewest(target, held?.seq ?? -1);\n    held?.db.close();',
  },
  {
    id: 'snapshot-reader-lags-behind',
    strategy: 'snapshot',
    description:
      'to open fewer files, a snapshot reader moves on only when it is more than KEEP_PREVIOUS snapshots behind',
    file: 'src/strategies/snapshot.ts',
    find: '(target === undefined || target.seq <= held.seq)',
    replace: '(target === undefined || target.seq <= held.seq + KEEP_PREVIOUS)',
  },

  // --- handoff
  {
    id: 'handoff-owner-no-retry',
    strategy: 'handoff',
    description: 'the handoff owner gives up on the first lock conflict instead of retrying with backoff',
    file: 'src/strategies/handoff.ts',
    find: 'counters.owner.conflicts++;',
    replace: 'counters.owner.conflicts++;\n            throw error;',
  },
  {
    id: 'handoff-reader-no-retry',
    strategy: 'handoff',
    description: 'a handoff reader gives up on the first lock conflict instead of retrying with backoff',
    file: 'src/strategies/handoff.ts',
    find: 'counters.reader.conflicts++;',
    replace: 'counters.reader.conflicts++;\n        throw error;',
  },
  {
    id: 'handoff-lease-leak',
    strategy: 'handoff',
    description:
      'releasing a shared read handle returns early while other searches use it, so its count never reaches 0',
    file: 'src/strategies/handoff.ts',
    find: 'shared.refs--;',
    replace: 'if (shared.refs > 1) return;\n  shared.refs--;',
  },
  {
    id: 'handoff-owner-keeps-lock',
    strategy: 'handoff',
    description:
      'the handoff owner closes the index only when a write fails, so it keeps the lock after a good one',
    file: 'src/strategies/handoff.ts',
    find: '} finally {\n        await db.close();\n      }',
    replace: '} catch (error) {\n        await db.close();\n        throw error;\n      }',
  },

  // --- embecode serve: election and takeover (run with `embecode-stress run --target serve`)
  {
    id: 'serve-lease-before-index-close',
    strategy: 'serve',
    description:
      'a stopping serve owner gives up the election lock before it has closed the index, so a successor is elected while the index is still held',
    file: 'src/serve/serve.ts',
    find: '    const db = this.db;\n    this.db = undefined;\n    if (db !== undefined) {',
    replace:
      '    await attempt(() => this.lease?.release());\n    const db = this.db;\n    this.db = undefined;\n    if (db !== undefined) {',
  },
  {
    id: 'takeover-free-lock-read-as-held',
    strategy: 'serve',
    description:
      'the takeover watch reads a lock table that names no holder as held (it only checks that the holder is not itself), so once the owner is gone no reader ever takes over',
    file: 'src/election/election.ts',
    find: 'const visiblyHeld = hint.known && hint.pid !== undefined && hint.pid !== process.pid;',
    replace: 'const visiblyHeld = hint.known && hint.pid !== process.pid;',
  },
];
