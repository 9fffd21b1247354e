import { Database } from '../index/database.js';
import type { IndexStats, PreparedFile } from '../index/types.js';
import type { OwnerSide, StrategyContext } from './strategy.js';

/**
 * The plain owner: holds the index read-write from `acquire` to `release`. Strategies that add
 * something around writes (serving a socket, publishing a snapshot) extend it.
 */
export class HoldingOwner implements OwnerSide {
  protected db: Database | undefined;

  constructor(protected readonly context: StrategyContext) {}

  get holding(): boolean {
    return this.db !== undefined;
  }

  async acquire(): Promise<void> {
    if (this.db !== undefined) return;
    this.db = await Database.open(this.context.dbPath, {
      mode: 'owner',
      dimensions: this.context.embedder.dimensions,
      embedder: this.context.embedder.name,
    });
  }

  async release(): Promise<void> {
    const db = this.db;
    this.db = undefined;
    await db?.close();
  }

  write(files: readonly PreparedFile[]): Promise<void> {
    return this.open().upsertFiles(files);
  }

  delete(paths: readonly string[]): Promise<void> {
    return this.open().deleteFiles(paths);
  }

  checkpoint(): Promise<void> {
    return this.open().checkpoint();
  }

  stats(): Promise<IndexStats> {
    return this.open().stats();
  }

  async close(): Promise<void> {
    await this.release();
  }

  /** The open index, or an error that says the owner gave its lock up. */
  protected open(): Database {
    if (this.db === undefined) {
      throw new Error(`owner ${process.pid} has released ${this.context.dbPath}; acquire it first`);
    }
    return this.db;
  }
}
