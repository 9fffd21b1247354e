import fc from 'fast-check';

/**
 * Random projects for the differential test: few words, so that most chunks share some and
 * scores tie or nearly tie; identifiers in several case styles and with one letter more, so that
 * near-duplicates rank next to each other; definitions, so that files break into many chunks and
 * definitions-first has something to move; and exact copies of a file under a second path.
 */

export const WORDS = ['parse', 'config', 'cache', 'request', 'token', 'render', 'query', 'stream'] as const;

/** A word no generated file contains. */
export const ABSENT_WORD = 'zqxwvj';

/** Paths chosen so that prefixes split them in every way: `src/a` is a prefix of `src/ab.ts`. */
export const PATHS = [
  'src/a.ts',
  'src/ab.ts',
  'src/B.ts',
  'src/a_b.ts',
  'src/a/b.py',
  'lib/c.go',
  'lib/cd.rs',
  'docs/e.md',
  'f.txt',
] as const;

/** Where copies of files go: the same extension, another directory. */
export const COPY_DIR = 'copy/';

export const PREFIXES = [
  undefined,
  '',
  'src/',
  'src/a',
  'src/a/',
  'src/a.ts',
  'lib/',
  COPY_DIR,
  'nowhere/',
] as const;

const word = fc.constantFrom(...WORDS);

/** An identifier of one or two words in some case style, sometimes with a trailing `s`. */
export const identifier = fc
  .tuple(word, fc.option(word, { nil: undefined }), fc.constantFrom('camel', 'snake', 'pascal'), fc.boolean())
  .map(([a, b, style, plural]) => {
    const parts = b === undefined ? [a] : [a, b];
    const cap = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);
    const joined =
      style === 'snake'
        ? parts.join('_')
        : style === 'pascal'
          ? parts.map(cap).join('')
          : parts.map((p, i) => (i === 0 ? p : cap(p))).join('');
    return plural ? `${joined}s` : joined;
  });

const body = fc.array(fc.oneof(word, identifier), { minLength: 1, maxLength: 8 }).map((ws) => ws.join(' '));

/** One definition (or, for text files, one paragraph) in the language of `extension`. */
function definition(extension: string) {
  return fc.tuple(identifier, fc.array(body, { minLength: 1, maxLength: 4 })).map(([name, lines]) => {
    switch (extension) {
      case 'ts':
        return `export function ${name}() {\n${lines.map((l) => `  return ${l};`).join('\n')}\n}\n`;
      case 'py':
        return `def ${name}():\n${lines.map((l) => `    return ${l}`).join('\n')}\n`;
      case 'go':
        return `func ${name}() {\n${lines.map((l) => `\t// ${l}`).join('\n')}\n}\n`;
      case 'rs':
        return `pub fn ${name}() {\n${lines.map((l) => `    // ${l}`).join('\n')}\n}\n`;
      default:
        return `${lines.join('\n')}\n`;
    }
  });
}

function contentFor(path: string) {
  const extension = path.slice(path.lastIndexOf('.') + 1);
  return fc.array(definition(extension), { minLength: 1, maxLength: 5 }).map((defs) => defs.join('\n'));
}

export interface GeneratedProject {
  /** Path to content, copies included, in the order they are written (not path order). */
  readonly files: readonly (readonly [path: string, content: string])[];
  /** Paths deleted after everything was written. */
  readonly deleted: readonly string[];
  /** Chunker line budget: small budgets cut definitions into windows, for more chunks. */
  readonly maxLines: number;
}

export const project: fc.Arbitrary<GeneratedProject> = fc
  .uniqueArray(fc.constantFrom(...PATHS), { minLength: 2, maxLength: PATHS.length })
  .chain((paths) =>
    fc
      .record({
        contents: fc.tuple(...paths.map(contentFor)),
        copied: fc.subarray(paths, { maxLength: 2 }),
        deleted: fc.subarray(paths, { maxLength: 1 }),
        maxLines: fc.constantFrom(3, 8, 60),
        order: fc.infiniteStream(fc.nat()),
      })
      .map(({ contents, copied, deleted, maxLines, order }) => {
        const files: [string, string][] = paths.map((path, i) => [path, contents[i] as string]);
        for (const path of copied) {
          files.push([
            COPY_DIR + path.slice(path.lastIndexOf('/') + 1),
            contents[paths.indexOf(path)] as string,
          ]);
        }
        // Chunk ids follow write order: shuffled, so that an index ordering ties by id shows it.
        const shuffled: [string, string][] = [];
        const draws = order[Symbol.iterator]();
        while (files.length > 0) {
          const i = (draws.next().value as number) % files.length;
          shuffled.push(...files.splice(i, 1));
        }
        return { files: shuffled, deleted, maxLines };
      }),
  );

/** Queries: words of the files, identifiers, several words, a word in no file, no terms at all. */
export const query = fc.oneof(
  { weight: 3, arbitrary: word },
  { weight: 3, arbitrary: identifier },
  {
    weight: 2,
    arbitrary: fc.array(fc.oneof(word, identifier), { minLength: 2, maxLength: 4 }).map((ws) => ws.join(' ')),
  },
  { weight: 1, arbitrary: fc.constantFrom(ABSENT_WORD, `${ABSENT_WORD} config`, '-- !', '') },
);
