import { Database } from '../index/database.js';
import { Searcher } from '../index/search.js';
import type { SearchOptions, SearchResult } from '../index/types.js';
import { HoldingOwner } from './holding-owner.js';
import type { ReaderSide, Strategy, StrategyContext } from './strategy.js';

/**
 * The naive design: a reader opens the index file READ_ONLY next to the owner. DuckDB's OS lock
 * forbids exactly that, so this strategy exists to prove the tester finds and shrinks the conflict.
 */
export const readonlyDirect: Strategy = {
  name: 'readonly-direct',
  description: 'Readers open the index file READ_ONLY while the owner holds it read-write (fails on DuckDB).',
  contract: 'acknowledged-before-start',
  createOwner: (context) => new HoldingOwner(context),
  createReader: (context) => new DirectReader(context),
};

/** Opens the index file itself, READ_ONLY, and searches it in this process. */
export class DirectReader implements ReaderSide {
  private db: Database | undefined;
  private searcher: Searcher | undefined;

  constructor(private readonly context: StrategyContext) {}

  get isOpen(): boolean {
    return this.db !== undefined;
  }

  async open(): Promise<void> {
    if (this.db !== undefined) return;
    this.db = await Database.open(this.context.dbPath, { mode: 'reader' });
    this.searcher = new Searcher(this.db, this.context.embedder);
  }

  async close(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    this.searcher = undefined;
    await db?.close();
  }

  search(query: string, options: SearchOptions): Promise<SearchResult[]> {
    if (this.searcher === undefined) {
      return Promise.reject(
        new Error(`reader ${process.pid} has not opened ${this.context.dbPath}; open it first`),
      );
    }
    return this.searcher.search(query, options);
  }
}
