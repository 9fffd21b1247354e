import { DuckDBArrayValue, type DuckDBConnection, type DuckDBDataChunk } from './duckdb-api.js';

/**
 * Every embedding of an index, held in memory for brute-force vector search in JS.
 *
 * DuckDB scans FLOAT[N] arrays at roughly 50-100 ms per 100k x 384 here, most of the hybrid search
 * budget. This cache keeps the vectors column-major (one Float32Array per dimension), so a query
 * costs one multiply-add per stored vector per NON-ZERO query dimension: the hashing embedder's
 * query vectors have a few dozen non-zero dimensions out of hundreds, and a dense query still costs
 * only a tight loop over typed arrays (~10-40 ms at 100k x 384).
 *
 * The Database that owns a cache loads it under its write queue and applies each committed write to
 * it under the same gate as the COMMIT, before the write resolves; a search reads it only at the
 * start of its read transaction (Database.snapshot), so both see the same committed state.
 */

export interface CachedHit {
  readonly id: bigint;
  readonly path: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly score: number;
}

export interface CachedChunk {
  readonly id: bigint;
  readonly path: string;
  readonly startLine: number;
  readonly endLine: number;
  readonly embedding: Float32Array;
}

/**
 * Decimals of the cosine its ranking key keeps, here and in SQL: float sums of equal vectors in
 * another order, or by another engine, differ in their last bits.
 */
export const VECTOR_RANK_DECIMALS = 6;

/**
 * `value` rounded to `decimals` places the way DuckDB's round(DOUBLE, n) does it (scale, round
 * half away from zero, unscale, all in doubles), so that a key computed here equals one from SQL.
 */
export function roundLikeDuckDB(value: number, decimals: number): number {
  const scale = 10 ** decimals;
  const scaled = value * scale;
  return (scaled < 0 ? -Math.round(-scaled) : Math.round(scaled)) / scale;
}

/**
 * Paths in code point order, which is DuckDB's VARCHAR order (UTF-8 bytes), so rankings sorted
 * here and in SQL agree (not localeCompare, which differs between ICU builds and locales). Code
 * unit order, JavaScript's `<`, differs from it where one path has a character above U+FFFF (a
 * surrogate, 0xD800-0xDFFF) and the other one in U+E000-U+FFFF at the first difference: there the
 * surrogate is moved above the others.
 */
export function comparePaths(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return codePointRank(x) - codePointRank(y);
  }
  return a.length - b.length;
}

/** A code unit's place in code point order: surrogates after U+E000-U+FFFF, the rest as they are. */
function codePointRank(unit: number): number {
  if (unit >= 0xd800 && unit <= 0xdfff) return unit + 0x2000;
  if (unit >= 0xe000) return unit - 0x800;
  return unit;
}

const INITIAL_CAPACITY = 1024;
const TRANSPOSE_BLOCK = 32;
/**
 * Most memory the vectors may take (~340k chunks at 384 dimensions). Past it the cache refuses to
 * load or grow, and its Database goes back to vector search in SQL.
 */
export const MAX_CACHE_BYTES = 512 * 1024 * 1024;

/** Thrown when the vectors would not fit in MAX_CACHE_BYTES. */
export class VectorCacheTooLarge extends Error {
  constructor(rows: number, dimensions: number) {
    super(`${rows} vectors of ${dimensions} dimensions exceed the vector cache's ${MAX_CACHE_BYTES} bytes`);
    this.name = 'VectorCacheTooLarge';
  }
}

export class VectorCache {
  readonly dimensions: number;
  private capacity = 0;
  private count = 0;
  private columns: Float32Array[] = [];
  private ids = new Float64Array(0);
  private starts = new Int32Array(0);
  private ends = new Int32Array(0);
  private paths: string[] = [];
  private readonly slots = new Map<number, number>();
  private scores = new Float32Array(0);

  constructor(dimensions: number, capacity = INITIAL_CAPACITY) {
    this.dimensions = dimensions;
    this.grow(Math.max(capacity, 1));
  }

  get size(): number {
    return this.count;
  }

  /** Reads every embedding (with its chunk's path and lines) through `conn`. */
  static async load(conn: DuckDBConnection, dimensions: number): Promise<VectorCache> {
    const counted = await conn.runAndReadAll('SELECT count(*) FROM embeddings');
    const rows = Number(counted.getRows()[0]?.[0] ?? 0);
    if (rows * dimensions * Float32Array.BYTES_PER_ELEMENT > MAX_CACHE_BYTES) {
      throw new VectorCacheTooLarge(rows, dimensions);
    }
    // Sized for what is there plus some room, so the load never regrows the columns.
    const cache = new VectorCache(dimensions, Math.max(INITIAL_CAPACITY, Math.ceil(rows * 1.25)));
    // An empty index (every stress run starts as one) has nothing to join: the query costs ~2 ms.
    if (rows === 0) return cache;
    const result = await conn.stream(
      'SELECT e.chunk_id, e.vec, c.path, c.start_line, c.end_line FROM embeddings e JOIN chunks c ON c.id = e.chunk_id',
    );
    for (;;) {
      const chunk = await result.fetchChunk();
      if (chunk === null || chunk.rowCount === 0) break;
      cache.addDataChunk(chunk);
    }
    return cache;
  }

  add(chunk: CachedChunk): void {
    const key = Number(chunk.id);
    if (this.slots.has(key)) this.remove(chunk.id);
    if (this.count === this.capacity) this.grow(this.capacity * 2);
    const slot = this.count++;
    const vector = chunk.embedding;
    const columns = this.columns;
    for (let d = 0; d < this.dimensions; d++) (columns[d] as Float32Array)[slot] = vector[d] as number;
    this.setSlot(slot, key, chunk.path, chunk.startLine, chunk.endLine);
  }

  /** Forgets a chunk; unknown ids are ignored. The last slot moves into the hole, so slots stay dense. */
  remove(id: bigint): void {
    const key = Number(id);
    const slot = this.slots.get(key);
    if (slot === undefined) return;
    this.slots.delete(key);
    const last = --this.count;
    if (slot !== last) {
      for (const column of this.columns) column[slot] = column[last] as number;
      const lastKey = this.ids[last] as number;
      this.setSlot(
        slot,
        lastKey,
        this.paths[last] as string,
        this.starts[last] as number,
        this.ends[last] as number,
      );
    }
    this.paths[last] = '';
  }

  /**
   * The `limit` chunks with the highest inner product with `query` (the cosine, for the unit vectors
   * the index stores), best first, optionally only under a path prefix. Ranked by the score rounded
   * to VECTOR_RANK_DECIMALS, then path, then start line, as vector search in SQL; the score returned
   * is not rounded.
   */
  search(query: Float32Array, limit: number, pathPrefix: string | null = null): CachedHit[] {
    const n = this.count;
    if (n === 0 || limit <= 0) return [];
    const scores = this.scores.subarray(0, n);
    scores.fill(0);
    for (let d = 0; d < this.dimensions; d++) {
      const q = query[d] as number;
      if (q === 0) continue;
      const column = (this.columns[d] as Float32Array).subarray(0, n);
      for (let i = 0; i < n; i++) scores[i] = (scores[i] as number) + q * (column[i] as number);
    }
    const heap = new TopK(limit, this.paths, this.starts);
    const ids = this.ids;
    if (pathPrefix === null) {
      for (let i = 0; i < n; i++) heap.offer(roundLikeDuckDB(scores[i] as number, VECTOR_RANK_DECIMALS), i);
    } else {
      for (let i = 0; i < n; i++) {
        if ((this.paths[i] as string).startsWith(pathPrefix))
          heap.offer(roundLikeDuckDB(scores[i] as number, VECTOR_RANK_DECIMALS), i);
      }
    }
    return heap.sorted().map((slot) => ({
      id: BigInt(ids[slot] as number),
      path: this.paths[slot] as string,
      startLine: this.starts[slot] as number,
      endLine: this.ends[slot] as number,
      score: scores[slot] as number,
    }));
  }

  private setSlot(slot: number, key: number, path: string, start: number, end: number): void {
    this.ids[slot] = key;
    this.paths[slot] = path;
    this.starts[slot] = start;
    this.ends[slot] = end;
    this.slots.set(key, slot);
  }

  private grow(capacity: number): void {
    if (capacity * this.dimensions * Float32Array.BYTES_PER_ELEMENT > MAX_CACHE_BYTES) {
      capacity = Math.floor(MAX_CACHE_BYTES / (this.dimensions * Float32Array.BYTES_PER_ELEMENT));
      if (capacity <= this.count) throw new VectorCacheTooLarge(this.count + 1, this.dimensions);
    }
    const columns: Float32Array[] = [];
    for (let d = 0; d < this.dimensions; d++) {
      const column = new Float32Array(capacity);
      const old = this.columns[d];
      if (old !== undefined) column.set(old.subarray(0, this.count));
      columns.push(column);
    }
    this.columns = columns;
    this.ids = copyInto(new Float64Array(capacity), this.ids, this.count);
    this.starts = copyInto(new Int32Array(capacity), this.starts, this.count);
    this.ends = copyInto(new Int32Array(capacity), this.ends, this.count);
    this.scores = new Float32Array(capacity);
    this.capacity = capacity;
  }

  /** Appends a result chunk of (chunk_id, vec, path, start_line, end_line) rows. */
  private addDataChunk(chunk: DuckDBDataChunk): void {
    const rows = chunk.rowCount;
    const dims = this.dimensions;
    const idVector = chunk.getColumnVector(0);
    const vecVector = chunk.getColumnVector(1);
    const pathVector = chunk.getColumnVector(2);
    const startVector = chunk.getColumnVector(3);
    const endVector = chunk.getColumnVector(4);
    const flat = floatChildItems(vecVector, rows * dims);
    const fresh = flat !== undefined && this.slots.size === this.count;
    if (fresh && this.count + rows <= this.capacity) {
      // Bulk path (a load): transpose the row-major block straight into the columns.
      const base = this.count;
      // In blocks of rows, so the block being read stays in the CPU cache across all dimensions.
      for (let from = 0; from < rows; from += TRANSPOSE_BLOCK) {
        const to = Math.min(rows, from + TRANSPOSE_BLOCK);
        for (let d = 0; d < dims; d++) {
          const column = this.columns[d] as Float32Array;
          for (let r = from, i = from * dims + d; r < to; r++, i += dims)
            column[base + r] = flat[i] as number;
        }
      }
      for (let r = 0; r < rows; r++) {
        const key = Number(idVector.getItem(r) as bigint);
        if (this.slots.has(key)) throw new Error(`chunk id ${key} appears twice in the embeddings`);
        this.setSlot(
          base + r,
          key,
          String(pathVector.getItem(r)),
          Number(startVector.getItem(r)),
          Number(endVector.getItem(r)),
        );
      }
      this.count += rows;
      return;
    }
    const embedding = new Float32Array(dims);
    for (let r = 0; r < rows; r++) {
      if (flat !== undefined) {
        embedding.set(flat.subarray(r * dims, (r + 1) * dims));
      } else {
        const value = vecVector.getItem(r);
        if (!(value instanceof DuckDBArrayValue)) continue;
        for (let d = 0; d < dims; d++) embedding[d] = Number(value.items[d] ?? 0);
      }
      this.add({
        id: BigInt(idVector.getItem(r) as bigint),
        path: String(pathVector.getItem(r)),
        startLine: Number(startVector.getItem(r)),
        endLine: Number(endVector.getItem(r)),
        embedding,
      });
    }
  }
}

/**
 * The FLOAT child data of an ARRAY vector as one Float32Array (row-major), read without boxing
 * each number. It leans on @duckdb/node-api internals (pinned in package.json), so it checks their
 * shape and returns undefined, for the slower public path, when they differ.
 */
export function floatChildItems(vector: unknown, expectedLength: number): Float32Array | undefined {
  const items = (vector as { childData?: { items?: unknown } }).childData?.items;
  return items instanceof Float32Array && items.length === expectedLength ? items : undefined;
}

function copyInto<T extends Float64Array | Int32Array>(target: T, source: T, count: number): T {
  target.set(source.subarray(0, count));
  return target;
}

/**
 * A bounded min-heap keeping the best `limit` slots by (key desc, path asc, start line asc). Slots
 * are unique (path, start line) pairs, so the order is total and the result does not depend on the
 * order slots are offered in, that is on write history.
 */
class TopK {
  private readonly keys: Float64Array;
  private readonly slots: Int32Array;
  private size = 0;

  constructor(
    private readonly limit: number,
    private readonly paths: readonly string[],
    private readonly starts: Int32Array,
  ) {
    this.keys = new Float64Array(limit);
    this.slots = new Int32Array(limit);
  }

  offer(key: number, slot: number): void {
    if (this.size < this.limit) {
      let i = this.size++;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!this.worse(key, slot, this.keys[parent] as number, this.slots[parent] as number)) break;
        this.move(parent, i);
        i = parent;
      }
      this.put(i, key, slot);
      return;
    }
    // The root is the worst kept entry: replace it only with something better.
    if (!this.worse(this.keys[0] as number, this.slots[0] as number, key, slot)) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= this.size) break;
      const right = left + 1;
      let child = left;
      if (
        right < this.size &&
        this.worse(
          this.keys[right] as number,
          this.slots[right] as number,
          this.keys[left] as number,
          this.slots[left] as number,
        )
      ) {
        child = right;
      }
      if (!this.worse(this.keys[child] as number, this.slots[child] as number, key, slot)) break;
      this.move(child, i);
      i = child;
    }
    this.put(i, key, slot);
  }

  /** The kept slots, best first. */
  sorted(): number[] {
    const out: { key: number; slot: number }[] = [];
    for (let i = 0; i < this.size; i++)
      out.push({ key: this.keys[i] as number, slot: this.slots[i] as number });
    return out
      .sort((a, b) =>
        this.worse(a.key, a.slot, b.key, b.slot) ? 1 : this.worse(b.key, b.slot, a.key, a.slot) ? -1 : 0,
      )
      .map((entry) => entry.slot);
  }

  /** True when (k1, slot1) ranks below (k2, slot2). */
  private worse(k1: number, slot1: number, k2: number, slot2: number): boolean {
    if (k1 !== k2) return k1 < k2;
    const order = comparePaths(this.paths[slot1] as string, this.paths[slot2] as string);
    if (order !== 0) return order > 0;
    return (this.starts[slot1] as number) > (this.starts[slot2] as number);
  }

  private move(from: number, to: number): void {
    this.keys[to] = this.keys[from] as number;
    this.slots[to] = this.slots[from] as number;
  }

  private put(i: number, key: number, slot: number): void {
    this.keys[i] = key;
    this.slots[i] = slot;
  }
}
