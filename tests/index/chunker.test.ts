import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type ChunkerOptions, chunkFile, languageOf } from '../../src/index/chunker.js';
import type { Chunk } from '../../src/index/types.js';

/** Lines of a text with their line endings, as the chunker counts them. */
function linesOf(content: string): string[] {
  return content.match(/[^\n]*\n|[^\n]+$/g) ?? [];
}

function isBlank(line: string): boolean {
  return line.trim() === '';
}

function spans(chunks: readonly Chunk[]): Array<[number, number]> {
  return chunks.map((c) => [c.startLine, c.endLine]);
}

/**
 * The chunker's contract: chunks in order and disjoint, each chunk's content exactly its lines, no
 * chunk starting or ending with a blank line, every line outside all chunks blank, every chunk within
 * budget unless it is one line, and the file rebuilt from chunks plus the blank lines between them.
 */
function checkContract(content: string, chunks: readonly Chunk[], options: ChunkerOptions = {}): void {
  const lines = linesOf(content);
  const maxLines = options.maxLines ?? 60;
  const maxChars = options.maxChars ?? 3000;
  const rebuilt: string[] = [];
  let next = 1;
  for (const chunk of chunks) {
    expect(chunk.startLine).toBeGreaterThanOrEqual(next);
    expect(chunk.endLine).toBeGreaterThanOrEqual(chunk.startLine);
    expect(chunk.endLine).toBeLessThanOrEqual(lines.length);
    const own = lines.slice(chunk.startLine - 1, chunk.endLine);
    expect(chunk.content).toBe(own.join(''));
    expect(isBlank(own[0] as string)).toBe(false);
    expect(isBlank(own[own.length - 1] as string)).toBe(false);
    expect(own.length).toBeLessThanOrEqual(maxLines);
    if (own.length > 1) expect(chunk.content.length).toBeLessThanOrEqual(maxChars);
    for (const gap of lines.slice(next - 1, chunk.startLine - 1)) {
      expect(isBlank(gap)).toBe(true);
      rebuilt.push(gap);
    }
    rebuilt.push(chunk.content);
    next = chunk.endLine + 1;
  }
  for (const gap of lines.slice(next - 1)) {
    expect(isBlank(gap)).toBe(true);
    rebuilt.push(gap);
  }
  expect(rebuilt.join('')).toBe(content);
}

function chunk(path: string, content: string, options?: ChunkerOptions): Chunk[] {
  const chunks = chunkFile(path, content, options);
  checkContract(content, chunks, options);
  return chunks;
}

const TS_SAMPLE = `import { x } from './x.js';

/** Adds. */
export function add(a: number, b: number): number {
  return a + b;
}

// The config.
export interface Config {
  name: string;
}

const parse = (text: string): Config => ({ name: text });

@sealed
export class Service {
  run(): void {}
}
type Alias = string;
`;

const PYTHON_SAMPLE = `"""Module doc."""
import os

# Helper.
def helper(x):
    # inside
    return x

@dataclass
class Point:
    x: int

    def norm(self):
        return 0

async def main():
    pass
`;

const GO_SAMPLE = `package main

import "fmt"

// Greet says hi.
func Greet(name string) string {
\treturn "hi " + name
}

type Point struct {
\tX, Y int
}

func (p Point) Norm() int {
\tvar x = 1
\treturn x
}
var Version = "1"
`;

const RUST_SAMPLE = `use std::fmt;

/// A point.
#[derive(Debug)]
pub struct Point {
    x: i32,
}

impl Point {
    pub fn new() -> Self {
        Point { x: 0 }
    }
}

pub(crate) async fn run() {}
mod tests {
    #[test]
    fn works() {}
}
`;

const JAVA_SAMPLE = `package demo;

import java.util.List;

/** A greeter. */
public class Greeter {
    private final String name;

    public Greeter(String name) {
        this.name = name;
    }

    /** Says hello. */
    @Override
    public String toString() {
        return "hi " + name;
    }

    static <T> List<T> wrap(T x) {
        return List.of(x);
    }
}
`;

describe('languageOf', () => {
  it('maps extensions, case-insensitively', () => {
    expect(languageOf('src/a.ts')).toBe('typescript');
    expect(languageOf('src/a.d.ts')).toBe('typescript');
    expect(languageOf('App.TSX')).toBe('typescript');
    expect(languageOf('lib/a.mjs')).toBe('javascript');
    expect(languageOf('a.py')).toBe('python');
    expect(languageOf('main.go')).toBe('go');
    expect(languageOf('lib.rs')).toBe('rust');
    expect(languageOf('A.java')).toBe('java');
  });

  it('knows nothing of other files, dotfiles or odd names', () => {
    expect(languageOf('README.md')).toBeUndefined();
    expect(languageOf('Makefile')).toBeUndefined();
    expect(languageOf('.ts')).toBeUndefined();
    expect(languageOf('dir.ts/file')).toBeUndefined();
    expect(languageOf('a.constructor')).toBeUndefined();
  });
});

describe('chunkFile per language', () => {
  it('TypeScript: one chunk per top-level definition, leading comments and decorators attached', () => {
    const chunks = chunk('src/a.ts', TS_SAMPLE);
    expect(spans(chunks)).toEqual([
      [1, 1],
      [3, 6],
      [8, 11],
      [13, 13],
      [15, 18],
      [19, 19],
    ]);
    expect(chunks[1]?.content).toBe(
      '/** Adds. */\nexport function add(a: number, b: number): number {\n  return a + b;\n}\n',
    );
    expect(chunks.every((c) => c.path === 'src/a.ts')).toBe(true);
  });

  it('JavaScript: function expressions, async functions and exported bindings', () => {
    const source = [
      "'use strict';",
      'const handler = async (event) => {',
      '  return event;',
      '};',
      'async function main() {',
      '  await handler(1);',
      '}',
      'export default main;',
    ].join('\n');
    expect(spans(chunk('index.js', source))).toEqual([
      [1, 1],
      [2, 4],
      [5, 7],
      [8, 8],
    ]);
  });

  it('Python: def and class at top level, decorators and comments attached, methods stay inside', () => {
    expect(spans(chunk('pkg/mod.py', PYTHON_SAMPLE))).toEqual([
      [1, 2],
      [4, 7],
      [9, 14],
      [16, 17],
    ]);
  });

  it('Python: a comment indented into the previous body stays with that body', () => {
    const source = 'def a():\n    x = 1\n    # trailing note\ndef b():\n    pass\n';
    expect(spans(chunk('a.py', source))).toEqual([
      [1, 3],
      [4, 5],
    ]);
  });

  it('Go: func, methods, type and package-level var; a var inside a function is no boundary', () => {
    expect(spans(chunk('main.go', GO_SAMPLE))).toEqual([
      [1, 3],
      [5, 8],
      [10, 12],
      [14, 17],
      [18, 18],
    ]);
    // Over budget, `Norm` has no inner definitions (its `var` is a statement), so it gets windows.
    expect(spans(chunk('main.go', GO_SAMPLE, { maxLines: 3 }))).toEqual([
      [1, 3],
      [5, 6],
      [7, 8],
      [10, 12],
      [14, 15],
      [16, 17],
      [18, 18],
    ]);
  });

  it('Rust: struct with doc comment and attribute, impl, pub(crate) async fn, mod', () => {
    expect(spans(chunk('src/lib.rs', RUST_SAMPLE))).toEqual([
      [1, 1],
      [3, 7],
      [9, 13],
      [15, 15],
      [16, 19],
    ]);
  });

  it('Rust: an impl over budget is cut at its methods', () => {
    const source = [
      'impl Shape {',
      '    /// Area.',
      '    pub fn area(&self) -> f64 {',
      '        self.w * self.h',
      '    }',
      '    pub fn grow(&mut self) {',
      '        self.w += 1.0;',
      '    }',
      '}',
    ].join('\n');
    expect(spans(chunk('shape.rs', source, { maxLines: 4 }))).toEqual([
      [1, 1],
      [2, 5],
      [6, 9],
    ]);
  });

  it('Java: the class is one chunk within budget, and is cut at its members when over it', () => {
    expect(spans(chunk('Greeter.java', JAVA_SAMPLE))).toEqual([
      [1, 3],
      [5, 22],
    ]);
    expect(spans(chunk('Greeter.java', JAVA_SAMPLE, { maxLines: 8 }))).toEqual([
      [1, 3],
      [5, 7],
      [9, 11],
      [13, 17],
      [19, 22],
    ]);
  });

  it('TypeScript: a class over budget is cut at its methods, with their doc comments', () => {
    const source = [
      'export class Store {',
      '  private items: string[] = [];',
      '',
      '  /** Adds one. */',
      '  add(item: string): void {',
      '    this.items.push(item);',
      '  }',
      '',
      '  async load(path: string): Promise<void> {',
      '    this.items = await read(path);',
      '  }',
      '',
      '  private onChange = (event: Event) => {',
      '    notify(event);',
      '  };',
      '}',
    ].join('\n');
    expect(spans(chunk('store.ts', source, { maxLines: 6 }))).toEqual([
      [1, 2],
      [4, 7],
      [9, 11],
      [13, 16],
    ]);
  });
});

describe('chunkFile budgets and fallback', () => {
  it('cuts a definition with no inner definitions into balanced line windows, without overlap', () => {
    const body = Array.from({ length: 23 }, (_, i) => `  x += ${i};`);
    const source = ['function big() {', ...body, '}', ''].join('\n');
    expect(spans(chunk('big.ts', source, { maxLines: 10 }))).toEqual([
      [1, 9],
      [10, 17],
      [18, 25],
    ]);
  });

  it('ends windows early to stay within maxChars', () => {
    // Ten lines of ten characters each.
    const source = Array.from({ length: 10 }, (_, i) => `line ${i}...\n`).join('');
    expect(spans(chunk('notes.txt', source, { maxChars: 35 }))).toEqual([
      [1, 3],
      [4, 6],
      [7, 9],
      [10, 10],
    ]);
  });

  it('falls back to line windows for unknown languages, ignoring code-like lines', () => {
    const source = Array.from({ length: 10 }, (_, i) => `function f${i}() {}\n`).join('');
    expect(spans(chunk('script.txt', source, { maxLines: 4 }))).toEqual([
      [1, 4],
      [5, 7],
      [8, 10],
    ]);
    expect(spans(chunk('script.txt', source))).toEqual([[1, 10]]);
  });

  it('keeps a line longer than maxChars whole, as one chunk, and terminates', () => {
    const huge = 'x'.repeat(100_000);
    expect(spans(chunk('min.js', huge, { maxChars: 100 }))).toEqual([[1, 1]]);
    const mixed = `a = 1\n${huge}\nb = 2\n`;
    expect(spans(chunk('data.py', mixed, { maxChars: 50 }))).toEqual([
      [1, 1],
      [2, 2],
      [3, 3],
    ]);
    const minified = `function a(){${'return 1;'.repeat(20_000)}}\n`;
    expect(spans(chunk('bundle.js', minified, { maxChars: 1000, maxLines: 1 }))).toEqual([[1, 1]]);
  });

  it('rejects budgets that are not positive integers', () => {
    expect(() => chunkFile('a.ts', 'x', { maxLines: 0 })).toThrow(RangeError);
    expect(() => chunkFile('a.ts', 'x', { maxChars: 1.5 })).toThrow(RangeError);
    expect(() => chunkFile('a.ts', 'x', { maxLines: Number.NaN })).toThrow(RangeError);
  });
});

describe('chunkFile line handling', () => {
  it('returns nothing for an empty or blank file', () => {
    expect(chunk('a.ts', '')).toEqual([]);
    expect(chunk('a.ts', '\n\n  \n\t\r\n')).toEqual([]);
  });

  it('handles CRLF: same lines as with LF, and the content keeps its CRLFs', () => {
    const crlf = TS_SAMPLE.replace(/\n/g, '\r\n');
    const chunks = chunk('src/a.ts', crlf);
    expect(spans(chunks)).toEqual(spans(chunkFile('src/a.ts', TS_SAMPLE)));
    expect(chunks[1]?.content).toBe(
      '/** Adds. */\r\nexport function add(a: number, b: number): number {\r\n  return a + b;\r\n}\r\n',
    );
  });

  it('handles a file without a trailing newline', () => {
    const chunks = chunk('a.py', 'def a():\n    pass\ndef b():\n    pass');
    expect(spans(chunks)).toEqual([
      [1, 2],
      [3, 4],
    ]);
    expect(chunks[1]?.content).toBe('def b():\n    pass');
  });

  it('sees a definition on the first line past a byte-order mark', () => {
    const chunks = chunk('a.py', '\uFEFFimport os\ndef a():\n    pass\n');
    expect(spans(chunks)).toEqual([
      [1, 1],
      [2, 3],
    ]);
    expect(chunks[0]?.content).toBe('\uFEFFimport os\n');
  });

  it('drops blank lines between chunks but keeps blank lines inside one', () => {
    const chunks = chunk('a.py', '\n\ndef a():\n\n    pass\n\n\ndef b():\n    pass\n\n');
    expect(spans(chunks)).toEqual([
      [3, 5],
      [8, 9],
    ]);
  });
});

describe('chunkFile contract (property)', () => {
  const lineArb = fc.oneof(
    fc.constantFrom(
      '',
      '   ',
      '\t',
      '}',
      '  return x;',
      '// comment',
      '/** doc */',
      ' * more doc',
      ' */',
      '# comment',
      '@decorator',
      '#[derive(Debug)]',
      'export function f() {',
      'export const x = 1;',
      'class A {',
      '  method(a) {',
      '  private field = (e) => {',
      'def f():',
      '    def g(self):',
      'async def h():',
      'func F() {',
      'type T struct {',
      'var V = 1',
      'pub fn f() {',
      '    fn g() {}',
      'impl X {',
      'public class J {',
      '    public void m() {',
      'x'.repeat(120),
    ),
    fc.string({ maxLength: 40 }),
  );
  const fileArb = fc.record({
    lines: fc.array(lineArb, { maxLength: 60 }),
    eol: fc.constantFrom('\n', '\r\n'),
    trailingNewline: fc.boolean(),
    path: fc.constantFrom('a.ts', 'a.js', 'a.py', 'a.go', 'a.rs', 'A.java', 'a.txt'),
    maxLines: fc.option(fc.integer({ min: 1, max: 20 }), { nil: undefined }),
    maxChars: fc.option(fc.integer({ min: 1, max: 400 }), { nil: undefined }),
  });

  it('partitions every file into ordered, exact, non-blank chunks within budget', () => {
    fc.assert(
      fc.property(fileArb, ({ lines, eol, trailingNewline, path, maxLines, maxChars }) => {
        const content = lines.join(eol) + (trailingNewline && lines.length > 0 ? eol : '');
        const options: ChunkerOptions = {};
        if (maxLines !== undefined) options.maxLines = maxLines;
        if (maxChars !== undefined) options.maxChars = maxChars;
        checkContract(content, chunkFile(path, content, options), options);
      }),
      { numRuns: 500 },
    );
  });

  const textUnit = fc.oneof(
    fc.constantFrom(
      '\n',
      '\r',
      '\r\n',
      ' ',
      '\t',
      '\uFEFF',
      '\u00A0',
      'a',
      '{',
      '}',
      '#',
      '@',
      '//',
      '*',
      'def ',
    ),
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 1 }),
  );

  it('holds for arbitrary text, including lone carriage returns and unicode', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: textUnit, maxLength: 300 }),
        fc.integer({ min: 1, max: 8 }),
        (text, max) => {
          const options = { maxLines: max, maxChars: max * 10 };
          checkContract(text, chunkFile('a.ts', text, options), options);
        },
      ),
      { numRuns: 300 },
    );
  });
});
