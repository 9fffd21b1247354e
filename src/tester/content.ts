import fc from 'fast-check';

/**
 * Generated file contents: several definitions per file (one chunk each), built from a small
 * shared vocabulary, so that many chunks match one word, near-duplicates differ by a word or a
 * count, and result lists fill up and truncate at the generated top-k. One definition per write
 * carries the write's unique token on a comment line above it, which the chunker keeps with the
 * definition: the token lands in that chunk's first line, hence in its preview.
 */

/** Shared words: every file draws its names and bodies from these. */
export const VOCABULARY = [
  'parse',
  'config',
  'cache',
  'request',
  'token',
  'buffer',
  'stream',
  'render',
  'index',
  'query',
] as const;

/** One definition: a name of two vocabulary words and a body that repeats some of them. */
export interface DefinitionSpec {
  /** Indexes into VOCABULARY for the name's two parts (`parseConfig`, `parse_config`). */
  readonly name: readonly [number, number];
  /** Indexes into VOCABULARY, one word per occurrence, in order. */
  readonly body: readonly number[];
}

/** What one file of a write holds. */
export interface FileSpec {
  readonly definitions: readonly DefinitionSpec[];
  /** Which definition carries the token (taken modulo the number of definitions). */
  readonly tokenAt: number;
}

const word = fc.nat({ max: VOCABULARY.length - 1 });

export const definitionSpec: fc.Arbitrary<DefinitionSpec> = fc.record({
  name: fc.tuple(word, word),
  body: fc.array(word, { minLength: 0, maxLength: 6 }),
});

export const fileSpec: fc.Arbitrary<FileSpec> = fc.record({
  definitions: fc.array(definitionSpec, { minLength: 1, maxLength: 5 }),
  tokenAt: fc.nat({ max: 4 }),
});

function vocab(i: number): string {
  return VOCABULARY[i % VOCABULARY.length] as string;
}

function capitalised(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

type Syntax = 'ts' | 'py' | 'go' | 'rs';

function syntaxOf(path: string): Syntax {
  if (path.endsWith('.py')) return 'py';
  if (path.endsWith('.go')) return 'go';
  if (path.endsWith('.rs')) return 'rs';
  return 'ts';
}

/** The definition's name in the file's own case style. */
export function definitionName(spec: DefinitionSpec, path: string): string {
  const [a, b] = spec.name.map(vocab) as [string, string];
  return syntaxOf(path) === 'py' || syntaxOf(path) === 'rs' ? `${a}_${b}` : `${a}${capitalised(b)}`;
}

function definitionLines(spec: DefinitionSpec, path: string, index: number, token?: string): string[] {
  const syntax = syntaxOf(path);
  const name = `${definitionName(spec, path)}${index}`;
  const words = spec.body.map(vocab).join(' ');
  const comment = syntax === 'py' ? '#' : '//';
  const head = token === undefined ? [] : [`${comment} ${token}`];
  switch (syntax) {
    case 'py':
      return [...head, `def ${name}(value):`, `    return "${words}"`];
    case 'go':
      return [...head, `func ${name}(value string) string {`, `\treturn "${words}"`, '}'];
    case 'rs':
      return [...head, `pub fn ${name}(value: &str) -> String {`, `    "${words}".to_string()`, '}'];
    default:
      return [...head, `export function ${name}(value: string): string {`, `  return '${words}';`, '}'];
  }
}

/** The whole file: its definitions separated by blank lines, the token above one of them. */
export function renderFile(path: string, spec: FileSpec, token: string): string {
  const at = spec.tokenAt % spec.definitions.length;
  const blocks = spec.definitions.map((d, i) => definitionLines(d, path, i, i === at ? token : undefined));
  return `${blocks.map((lines) => lines.join('\n')).join('\n\n')}\n`;
}

/** A plain file of `definitions` small functions, the token above the first (benchmarks, tests). */
export function spec(definitions = 1): FileSpec {
  return {
    definitions: Array.from({ length: Math.max(1, definitions) }, (_, i) => ({
      name: [i % VOCABULARY.length, (i + 1) % VOCABULARY.length] as const,
      body: [i % VOCABULARY.length],
    })),
    tokenAt: 0,
  };
}
