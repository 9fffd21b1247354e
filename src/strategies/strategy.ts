import type { Embedder } from '../index/embedder.js';
import type { IndexStats, PreparedFile, SearchOptions, SearchResult } from '../index/types.js';

/**
 * What a search is promised to see. The tester's checker holds one rule per name.
 * - `acknowledged-before-start`: every write acknowledged before the search started is visible,
 *   nothing deleted or replaced before it started is, nothing invoked after it ended is.
 * - `published-prefix`: the search sees exactly a prefix of the acknowledged writes, never an
 *   older prefix than an earlier search saw, and at least everything published before it started.
 */
export type ContractName = 'acknowledged-before-start' | 'published-prefix';

/** How an outsider (a process that is not embecode) opens a file of the strategy's. */
export type OutsiderAccess = 'READ_WRITE' | 'READ_ONLY';

/** What an outsider's attempt must come to: kept out, let in, or either (nothing is promised). */
export type OutsiderVerdict = 'refused' | 'allowed' | 'either';

/**
 * One kind of file an outsider may try (the index, a published snapshot, a lock file) and what
 * the strategy promises about it. The tester's intruder tries each at generated moments; getting
 * in where the verdict is `refused` fails the run, being kept out where it is `allowed` too.
 */
export interface OutsiderRule {
  readonly target: string;
  /** The file of this kind in a run right now, or undefined when there is none yet. */
  resolve(context: { readonly dbPath: string; readonly workDir: string }): string | undefined;
  verdict(access: OutsiderAccess, owner: { readonly holds: boolean }): OutsiderVerdict;
}

/** While an owner holds the index read-write, DuckDB's lock keeps every other process out of it. */
export const INDEX_EXCLUSIVE: OutsiderRule = {
  target: 'index',
  resolve: (context) => context.dbPath,
  verdict: (_access, owner) => (owner.holds ? 'refused' : 'either'),
};

export interface StrategyContext {
  /** The index file every actor of one run shares. */
  readonly dbPath: string;
  /** A private directory of the run, for sockets, snapshots and lock files. */
  readonly workDir: string;
  readonly embedder: Embedder;
}

/** The owner's half of a strategy. It alone decides when the DuckDB file is open read-write. */
export interface OwnerSide {
  /** Takes ownership of the index (creating it if needed). */
  acquire(): Promise<void>;
  /** Gives up the OS lock: every connection and the instance are closed when this resolves. */
  release(): Promise<void>;
  readonly holding: boolean;
  write(files: readonly PreparedFile[]): Promise<void>;
  delete(paths: readonly string[]): Promise<void>;
  checkpoint(): Promise<void>;
  stats(): Promise<IndexStats>;
  /** Releases everything, including sockets and published files. Safe to call twice. */
  close(): Promise<void>;
}

/** A reader's half of a strategy: how a process that is not the owner searches. */
export interface ReaderSide {
  open(): Promise<void>;
  close(): Promise<void>;
  readonly isOpen: boolean;
  search(query: string, options: SearchOptions): Promise<SearchResult[]>;
}

export interface Strategy {
  readonly name: string;
  /** One sentence a user can rely on. */
  readonly description: string;
  readonly contract: ContractName;
  /**
   * What an outsider may do, per file kind; absent: INDEX_EXCLUSIVE alone. A strategy retries
   * its own lock conflicts: the tester records every conflict that reaches it as a failure.
   */
  readonly outsiders?: readonly OutsiderRule[];
  /**
   * Readers search through the owner (ipc): while the owner has released the index there is
   * nobody to answer, so the tester only opens and searches while the owner holds it.
   */
  readonly readerNeedsOwner?: boolean;
  createOwner(context: StrategyContext): OwnerSide;
  createReader(context: StrategyContext): ReaderSide;
}
