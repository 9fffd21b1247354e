/** Bumped whenever a table changes shape; an index written by another version is refused, not guessed at. */
export const SCHEMA_VERSION = '1';

/**
 * No PRIMARY KEY or UNIQUE constraints: DuckDB's ART indexes make delete-then-insert of the same key
 * in one transaction fragile and slow bulk appends. The owner is the only writer, and it replaces a
 * file's rows inside one transaction, so uniqueness holds by construction.
 */
export function schemaStatements(dimensions: number): string[] {
  return [
    'CREATE TABLE IF NOT EXISTS meta (key VARCHAR, value VARCHAR)',
    'CREATE TABLE IF NOT EXISTS files (path VARCHAR, hash VARCHAR, size BIGINT, chunk_count INTEGER, indexed_at TIMESTAMP)',
    'CREATE TABLE IF NOT EXISTS chunks (id BIGINT, path VARCHAR, start_line INTEGER, end_line INTEGER, length INTEGER, content VARCHAR)',
    `CREATE TABLE IF NOT EXISTS embeddings (chunk_id BIGINT, vec FLOAT[${dimensions}])`,
    'CREATE TABLE IF NOT EXISTS postings (term VARCHAR, chunk_id BIGINT, tf INTEGER)',
  ];
}

export const REQUIRED_TABLES = ['meta', 'files', 'chunks', 'embeddings', 'postings'] as const;
