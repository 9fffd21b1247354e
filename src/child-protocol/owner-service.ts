import { EmbecodeError } from '../errors.js';
import type { Embedder } from '../index/embedder.js';
import { prepareFile } from '../index/prepare.js';
import type { OwnerSide, Strategy } from '../strategies/strategy.js';
import { dispatch, type OpTable } from './dispatch.js';
import type { Reply, Request } from './messages.js';

export const OWNER_OPS = [
  'open',
  'write',
  'delete',
  'checkpoint',
  'release',
  'acquire',
  'status',
  'shutdown',
] as const;

export type OwnerOp = (typeof OWNER_OPS)[number];

export interface WriteArgs {
  readonly path: string;
  readonly content: string;
}

export interface OwnerStatus {
  readonly pid: number;
  readonly holding: boolean;
  readonly db: string | null;
  readonly files: number;
  readonly chunks: number;
}

/**
 * What the owner does for each protocol request, independent of how requests arrive. The owner
 * child wires it to stdin/stdout; the benchmark's in-process floor calls it directly, so both run
 * exactly the same code.
 */
export class OwnerService {
  private side: OwnerSide | undefined;
  private dbPath: string | null = null;

  constructor(
    private readonly strategy: Strategy,
    private readonly embedder: Embedder,
  ) {}

  /** The owner child's ops. `open` opens (or re-opens) the index at `db` as owner, closing any
   * index open before; `release` closes every connection and the instance, so the OS lock is free
   * when the reply arrives; `acquire` re-opens the last index after a release. */
  readonly ops: OpTable<OwnerOp> = {
    open: (args) => this.open(stringArg(args, 'db'), stringArg(args, 'dir')),
    write: async (args) => {
      const files = writeArgs(args);
      // Chunk and embed before touching the index, so the write lock is held only for inserts.
      const prepared = await Promise.all(files.map((f) => prepareFile(f.path, f.content, this.embedder)));
      await this.owner().write(prepared);
      return { files: prepared.length, chunks: prepared.reduce((n, f) => n + f.chunks.length, 0) };
    },
    delete: async (args) => {
      await this.owner().delete(stringListArg(args, 'paths'));
      return null;
    },
    checkpoint: async () => {
      await this.owner().checkpoint();
      return null;
    },
    release: async () => {
      await this.owner().release();
      return null;
    },
    acquire: async () => {
      await this.owner().acquire();
      return null;
    },
    status: () => this.status(),
    shutdown: async () => {
      await this.close();
      return null;
    },
  };

  /** Handles one request as the child would (the bench's in-process floor calls it); never throws. */
  handle(request: Request): Promise<Reply> {
    return dispatch(this.ops, request);
  }

  async close(): Promise<void> {
    await this.side?.close();
    this.side = undefined;
  }

  private async open(db: string, dir: string): Promise<null> {
    await this.close();
    this.dbPath = db;
    this.side = this.strategy.createOwner({ dbPath: db, workDir: dir, embedder: this.embedder });
    await this.side.acquire();
    return null;
  }

  private async status(): Promise<OwnerStatus> {
    const side = this.side;
    const stats = side?.holding ? await side.stats() : undefined;
    return {
      pid: process.pid,
      holding: side?.holding ?? false,
      db: this.dbPath,
      files: stats?.files ?? 0,
      chunks: stats?.chunks ?? 0,
    };
  }

  private owner(): OwnerSide {
    if (this.side === undefined)
      throw new EmbecodeError('protocol', 'no index is open; send op "open" first');
    return this.side;
  }
}

function stringArg(args: Record<string, unknown>, name: string): string {
  const value = args[name];
  if (typeof value !== 'string' || value.length === 0) {
    throw new EmbecodeError('protocol', `argument '${name}' must be a non-empty string`);
  }
  return value;
}

function stringListArg(args: Record<string, unknown>, name: string): string[] {
  const value = args[name];
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw new EmbecodeError('protocol', `argument '${name}' must be a list of strings`);
  }
  return value;
}

function writeArgs(args: Record<string, unknown>): WriteArgs[] {
  const files = args.files;
  if (!Array.isArray(files))
    throw new EmbecodeError('protocol', "argument 'files' must be a list of {path, content}");
  return files.map((f: unknown) => {
    const record = (typeof f === 'object' && f !== null ? f : {}) as Record<string, unknown>;
    if (typeof record.path !== 'string' || typeof record.content !== 'string') {
      throw new EmbecodeError('protocol', 'each file must be {path: string, content: string}');
    }
    return { path: record.path, content: record.content };
  });
}
