import { EmbecodeError } from '../errors.js';
import type { Embedder } from '../index/embedder.js';
import { prepareFile } from '../index/prepare.js';
import type { OwnerSide, Strategy } from '../strategies/strategy.js';
import { answer, type OwnerReply, type OwnerRequest, type OwnerStatus, type WriteArgs } from './messages.js';

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

  /** Handles one request; never throws: failures become `ok: false` replies. */
  handle(request: OwnerRequest): Promise<OwnerReply> {
    return answer(request, () => this.dispatch(request));
  }

  async close(): Promise<void> {
    await this.side?.close();
    this.side = undefined;
  }

  private async dispatch(request: OwnerRequest): Promise<unknown> {
    const args = request.args ?? {};
    switch (request.op) {
      case 'open':
        return this.open(stringArg(args, 'db'), stringArg(args, 'dir'));
      case 'write': {
        const files = writeArgs(args);
        // Chunk and embed before touching the index, so the write lock is held only for inserts.
        const prepared = await Promise.all(files.map((f) => prepareFile(f.path, f.content, this.embedder)));
        await this.owner().write(prepared);
        return { files: prepared.length, chunks: prepared.reduce((n, f) => n + f.chunks.length, 0) };
      }
      case 'delete':
        await this.owner().delete(stringListArg(args, 'paths'));
        return null;
      case 'checkpoint':
        await this.owner().checkpoint();
        return null;
      case 'release':
        await this.owner().release();
        return null;
      case 'acquire':
        await this.owner().acquire();
        return null;
      case 'status':
        return this.status();
      case 'shutdown':
        await this.close();
        return null;
      default:
        throw new EmbecodeError('protocol', `unknown op '${String(request.op)}'`);
    }
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
