import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  createDefaultEmbedder,
  DEFAULT_DIMENSIONS,
  embedderForName,
  HashingEmbedder,
} from '../../src/index/embedder.js';
import { termFrequencies, tokenize } from '../../src/index/tokenizer.js';

function norm(v: Float32Array): number {
  let sum = 0;
  for (const x of v) sum += x * x;
  return Math.sqrt(sum);
}

function cosine(a: Float32Array, b: Float32Array): number {
  let dot = 0;
  for (let i = 0; i < a.length; i++) dot += (a[i] as number) * (b[i] as number);
  return dot / (norm(a) * norm(b));
}

const LOAD_CONFIG = `export async function loadConfig(path: string): Promise<Config> {
  const text = await readFile(path, 'utf8');
  const raw = JSON.parse(text) as Partial<Config>;
  if (raw.port === undefined) throw new Error(\`missing port in \${path}\`);
  return { port: raw.port, host: raw.host ?? 'localhost', verbose: raw.verbose ?? false };
}`;

/** LOAD_CONFIG with one identifier renamed and one default changed. */
const LOAD_CONFIG_EDITED = `export async function loadSettings(path: string): Promise<Config> {
  const text = await readFile(path, 'utf8');
  const raw = JSON.parse(text) as Partial<Config>;
  if (raw.port === undefined) throw new Error(\`missing port in \${path}\`);
  return { port: raw.port, host: raw.host ?? '127.0.0.1', verbose: raw.verbose ?? false };
}`;

const RENDER_TABLE = `def render_table(rows, columns):
    widths = [max(len(str(row[c])) for row in rows) for c in columns]
    lines = [" | ".join(c.ljust(w) for c, w in zip(columns, widths))]
    for row in rows:
        lines.append(" | ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths)))
    return "\\n".join(lines)`;

const PARSE_CONFIG = `def parse_config(path):
    with open(path) as handle:
        data = yaml.safe_load(handle)
    return Settings(**data)`;

describe('HashingEmbedder', () => {
  const embedder = new HashingEmbedder();

  it('has the default dimensions and a name that records them', () => {
    expect(embedder.dimensions).toBe(DEFAULT_DIMENSIONS);
    expect(DEFAULT_DIMENSIONS).toBe(384);
    expect(embedder.name).toBe('hashing-v2-384');
    expect(embedder.embedOne('x = 1').length).toBe(384);
  });

  it('respects the dimensions option', async () => {
    const small = new HashingEmbedder({ dimensions: 64 });
    expect(small.dimensions).toBe(64);
    expect(small.name).toBe('hashing-v2-64');
    const [vector] = await small.embed([LOAD_CONFIG]);
    expect(vector?.length).toBe(64);
    expect(norm(vector as Float32Array)).toBeCloseTo(1, 5);
    expect(Math.abs(new HashingEmbedder({ dimensions: 1 }).embedOne('hello world')[0] as number)).toBeCloseTo(
      1,
      5,
    );
  });

  it('rejects dimensions that are not positive integers', () => {
    for (const dimensions of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      expect(() => new HashingEmbedder({ dimensions })).toThrow(RangeError);
    }
  });

  it('is deterministic, across calls and instances', async () => {
    const first = await embedder.embed([LOAD_CONFIG, RENDER_TABLE]);
    const again = await new HashingEmbedder().embed([LOAD_CONFIG, RENDER_TABLE]);
    expect(again).toEqual(first);
    expect(embedder.embedOne(LOAD_CONFIG)).toEqual(first[0]);
  });

  it('returns one vector per text, in order, and fresh arrays each time', async () => {
    expect(await embedder.embed([])).toEqual([]);
    const [a, b, c] = await embedder.embed([LOAD_CONFIG, '', RENDER_TABLE]);
    expect(a).toEqual(embedder.embedOne(LOAD_CONFIG));
    expect(b).toEqual(new Float32Array(DEFAULT_DIMENSIONS));
    expect(c).toEqual(embedder.embedOne(RENDER_TABLE));
    (a as Float32Array).fill(7);
    expect(embedder.embedOne(LOAD_CONFIG)).not.toEqual(a);
  });

  it('gives unit vectors', () => {
    for (const text of [LOAD_CONFIG, RENDER_TABLE, PARSE_CONFIG, 'parseConfig', 'a bb ccc bb bb']) {
      expect(norm(embedder.embedOne(text))).toBeCloseTo(1, 5);
    }
  });

  it('gives the zero vector for a text without terms', () => {
    for (const text of ['', '   \n\t', '{}();', 'a b c']) {
      const vector = embedder.embedOne(text);
      expect(vector.length).toBe(DEFAULT_DIMENSIONS);
      expect(vector.every((x) => x === 0)).toBe(true);
    }
  });

  it('is not constant: different texts give different vectors', () => {
    const vectors = [LOAD_CONFIG, RENDER_TABLE, PARSE_CONFIG, 'alpha', 'beta'].map((t) =>
      embedder.embedOne(t),
    );
    for (let i = 0; i < vectors.length; i++) {
      for (let j = i + 1; j < vectors.length; j++) {
        expect(cosine(vectors[i] as Float32Array, vectors[j] as Float32Array)).toBeLessThan(0.9);
      }
    }
  });

  it('puts a near-duplicate closer to the original than unrelated code', () => {
    const original = embedder.embedOne(LOAD_CONFIG);
    const nearDuplicate = cosine(original, embedder.embedOne(LOAD_CONFIG_EDITED));
    const unrelated = cosine(original, embedder.embedOne(RENDER_TABLE));
    expect(nearDuplicate).toBeGreaterThan(0.8);
    expect(nearDuplicate).toBeGreaterThan(unrelated + 0.5);
  });

  it('matches a camelCase query to the snake_case identifier', () => {
    const query = embedder.embedOne('parseConfig');
    const target = cosine(query, embedder.embedOne(PARSE_CONFIG));
    expect(target).toBeGreaterThan(cosine(query, embedder.embedOne(RENDER_TABLE)));
    expect(target).toBeGreaterThan(cosine(query, embedder.embedOne(LOAD_CONFIG)));
  });

  it('ranks near-identical identifiers above unrelated ones through trigrams', () => {
    const query = embedder.embedOne('getUser');
    expect(cosine(query, embedder.embedOne('getUsers'))).toBeGreaterThan(
      cosine(query, embedder.embedOne('setColor')),
    );
  });

  it('embeds term frequencies exactly as it embeds the text they come from', () => {
    for (const text of [LOAD_CONFIG, RENDER_TABLE, PARSE_CONFIG, '']) {
      expect(embedder.embedTermFrequencies(termFrequencies(text))).toEqual(embedder.embedOne(text));
    }
  });

  it('gives a finite unit vector, or zeros exactly when the text has no terms (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        const vector = embedder.embedOne(text);
        expect(vector.every(Number.isFinite)).toBe(true);
        if (tokenize(text).length === 0) expect(norm(vector)).toBe(0);
        else expect(norm(vector)).toBeCloseTo(1, 5);
      }),
      { numRuns: 300 },
    );
  });
});

describe('embedder construction', () => {
  it('makes the hashing embedder by default', () => {
    const embedder = createDefaultEmbedder();
    expect(embedder).toBeInstanceOf(HashingEmbedder);
    expect(embedder.name).toBe('hashing-v2-384');
    expect(embedder.dimensions).toBe(384);
  });

  it('rebuilds an embedder from its name, and knows no others', () => {
    const rebuilt = embedderForName('hashing-v2-96');
    expect(rebuilt?.name).toBe('hashing-v2-96');
    expect(rebuilt?.dimensions).toBe(96);
    for (const name of [
      '',
      'unknown',
      'hashing-v2-',
      'hashing-v2-0',
      'hashing-v2-012',
      'hashing-v1-384',
      'hashing-v2-1e3',
    ]) {
      expect(embedderForName(name)).toBeUndefined();
    }
  });
});
