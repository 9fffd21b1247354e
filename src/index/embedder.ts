import { EmbecodeError } from '../errors.js';
import { tokenize } from './tokenizer.js';

/**
 * Turns texts into fixed-length vectors for similarity search.
 *
 * The index compares vectors by cosine similarity, so only the direction of a vector carries meaning.
 * Implementations must be deterministic: the owner and every reader embed independently (chunks in
 * the owner, queries wherever the search runs), and their vectors are only comparable if the same text
 * always gives the same vector, in every process and on every run.
 */
export interface Embedder {
  /**
   * Identifies the embedding function, including anything that changes its output (version, dimensions).
   * The index records it on creation; vectors made by embedders with different names must never be
   * compared.
   */
  readonly name: string;
  /** Length of every vector `embed` returns. A positive integer, fixed for the embedder's lifetime. */
  readonly dimensions: number;
  /**
   * One vector per text, in input order, each of length `dimensions`. Each vector has L2 norm 1, except
   * for a text with nothing to embed (for the hashing embedder: no terms, e.g. empty or only punctuation),
   * which gets the all-zero vector; its cosine with anything is 0, so search treats it as no signal.
   * The caller owns the returned arrays: the embedder keeps no reference to them.
   */
  embed(texts: readonly string[]): Promise<Float32Array[]>;
  /**
   * Optional fast path for callers that already tokenized the text (the indexer needs the term
   * counts for BM25 anyway): the same vector `embed` gives for a text with these term counts.
   */
  embedTermFrequencies?(counts: ReadonlyMap<string, number>): Float32Array;
}

export interface HashingEmbedderOptions {
  /** Vector length; default 384. */
  readonly dimensions?: number;
}

export const DEFAULT_DIMENSIONS = 384;

/** v2: the tokenizer reads every script and stems (issue 13), so v1 vectors are not comparable. */
const NAME_PREFIX = 'hashing-v2-';

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;
// Trigrams hash from a different starting state so that a trigram and a term with the same letters
// (say `get` the word and `get` the trigram) are different features.
const TRIGRAM_OFFSET = 0x9e3779b9;
/** Stand-ins for the start and end of a term, so prefixes and suffixes are features of their own. */
const TERM_START = 0x3c; // '<'
const TERM_END = 0x3e; // '>'
const UNDERSCORE = 0x5f;
/**
 * How much the trigrams of a term weigh, together (as a norm), relative to the term itself. They are there to pull
 * near-identical identifiers (`parseConfig` and `parse_config`, `getUser` and `getUsers`) together,
 * not to outvote exact matches, hence well below 1.
 */
const TRIGRAM_SHARE = 0.5;
const TWO_POW_32 = 4294967296;

/** Murmur3's finaliser: FNV-1a alone leaves the high and low bits correlated for short inputs. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of a string. */
export function fnv1a32(text: string, seed: number = FNV_OFFSET): number {
  let h = seed;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, FNV_PRIME);
  }
  return h >>> 0;
}

function trigramHash(a: number, b: number, c: number): number {
  let h = Math.imul(TRIGRAM_OFFSET ^ a, FNV_PRIME);
  h = Math.imul(h ^ b, FNV_PRIME);
  h = Math.imul(h ^ c, FNV_PRIME);
  return h;
}

/**
 * A feature-hashing embedder: a bag of terms (from the shared tokenizer, so identifiers arrive whole and
 * split into parts) plus the character trigrams of each term, each hashed to a signed bucket. It needs
 * no model and no download, and it is deterministic across processes and platforms.
 *
 * Each distinct term adds `1 + ln(tf)` (sublinear, so a term repeated fifty times does not drown the
 * rest) to its bucket, with a sign from another hash bit so collisions cancel on average instead of
 * piling up. Its trigrams (of the lower-cased term with underscores removed, padded with start and end
 * marks) together weigh `TRIGRAM_SHARE` times as much as the term (as a norm, were they all in distinct
 * buckets), however long the term. The sum is L2-normalised. A text without terms gets the zero vector;
 * so, in principle, would one whose signed features cancel exactly, which takes a freak coincidence
 * at the default dimensions but is easy to hit with a handful of them.
 */
export class HashingEmbedder implements Embedder {
  readonly name: string;
  readonly dimensions: number;
  /** Reused between calls: embedding runs synchronously, so no two calls ever share it at once. */
  private readonly scratch: Float64Array;
  private readonly counts = new Map<string, number>();

  constructor(options: HashingEmbedderOptions = {}) {
    const dimensions = options.dimensions ?? DEFAULT_DIMENSIONS;
    if (!Number.isInteger(dimensions) || dimensions < 1) {
      throw new RangeError(`embedder dimensions must be a positive integer, got ${dimensions}`);
    }
    this.dimensions = dimensions;
    this.name = `${NAME_PREFIX}${dimensions}`;
    this.scratch = new Float64Array(dimensions);
  }

  async embed(texts: readonly string[]): Promise<Float32Array[]> {
    return texts.map((text) => this.embedOne(text));
  }

  /** The synchronous core of `embed`, for callers that embed in a hot loop. */
  embedOne(text: string): Float32Array {
    const counts = this.counts;
    counts.clear();
    for (const term of tokenize(text)) counts.set(term, (counts.get(term) ?? 0) + 1);
    const out = this.embedTermFrequencies(counts);
    counts.clear();
    return out;
  }

  /**
   * The vector of a text given its term frequencies (as `termFrequencies(text)` from the tokenizer
   * counts them): equal to `embedOne(text)`. Indexing counts terms for BM25 anyway; passing them here
   * saves tokenizing each chunk twice, which costs more than the hashing.
   */
  embedTermFrequencies(counts: ReadonlyMap<string, number>): Float32Array {
    const vector = this.scratch;
    for (const [term, tf] of counts) {
      const weight = 1 + Math.log(tf);
      this.add(fmix32(fnv1a32(term)), weight);
      this.addTrigrams(term, weight);
    }

    const out = new Float32Array(this.dimensions);
    let sumSquares = 0;
    for (let i = 0; i < vector.length; i++) sumSquares += (vector[i] as number) * (vector[i] as number);
    if (sumSquares > 0) {
      const scale = 1 / Math.sqrt(sumSquares);
      for (let i = 0; i < vector.length; i++) out[i] = (vector[i] as number) * scale;
    }
    vector.fill(0);
    return out;
  }

  /** Bucket from the high bits, sign from the low bit: after fmix32 the two are independent. */
  private add(hash: number, weight: number): void {
    const bucket = Math.floor((hash * this.dimensions) / TWO_POW_32);
    const vector = this.scratch;
    vector[bucket] = (vector[bucket] as number) + (hash & 1 ? -weight : weight);
  }

  private addTrigrams(term: string, termWeight: number): void {
    // Underscores are skipped so that `parse_config` and `parseconfig` (how the tokenizer spells
    // `parseConfig`) have the same trigrams; counting the real characters first sizes the weights.
    let letters = 0;
    for (let i = 0; i < term.length; i++) if (term.charCodeAt(i) !== UNDERSCORE) letters++;
    // `letters + 2` padded characters give `letters` trigrams.
    if (letters === 0) return;
    const weight = (TRIGRAM_SHARE * termWeight) / Math.sqrt(letters);
    let a = TERM_START;
    let b = -1;
    for (let i = 0; i <= term.length; i++) {
      const c = i === term.length ? TERM_END : term.charCodeAt(i);
      if (c === UNDERSCORE) continue;
      if (b === -1) {
        b = c;
        continue;
      }
      this.add(fmix32(trigramHash(a, b, c)), weight);
      a = b;
      b = c;
    }
  }
}

/** The embedder an index gets unless told otherwise. */
export function createDefaultEmbedder(): Embedder {
  return new HashingEmbedder();
}

/**
 * The embedder whose `name` is `name`, or undefined when this build does not know it, so a process
 * opening an existing index can embed queries exactly as the index's creator embedded chunks.
 */
export function embedderForName(name: string): Embedder | undefined {
  if (!name.startsWith(NAME_PREFIX)) return undefined;
  const digits = name.slice(NAME_PREFIX.length);
  if (!/^[1-9][0-9]{0,5}$/.test(digits)) return undefined;
  return new HashingEmbedder({ dimensions: Number(digits) });
}

/** What an index records about the embedder that made its vectors. */
export interface IndexedWith {
  readonly path: string;
  readonly embedder: string;
  readonly dimensions: number;
}

/**
 * The embedder that made an index's vectors: queries must be embedded the same way. `preferred`
 * (by default the default embedder) is reused when it is that one.
 */
export function embedderForIndex(
  index: IndexedWith,
  preferred: Embedder = createDefaultEmbedder(),
): Embedder {
  if (preferred.name === index.embedder && preferred.dimensions === index.dimensions) return preferred;
  const embedder = embedderForName(index.embedder);
  if (embedder === undefined || embedder.dimensions !== index.dimensions) {
    throw new EmbecodeError(
      'corrupt',
      `index ${index.path} was built with embedder '${index.embedder}' (${index.dimensions} dimensions), which this embecode does not know; index again into another --db`,
    );
  }
  return embedder;
}
