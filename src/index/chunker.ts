import type { Chunk } from './types.js';

/**
 * Splits source files into chunks along definitions (functions, classes, types...), found by
 * line-start patterns per language rather than a parser: no dependency, never a parse failure, and
 * good enough for retrieval, where a boundary one line off costs little.
 *
 * The rules, in order:
 * 1. Lines end at `\n`; a `\r` before it stays in the content but is ignored when matching. A file
 *    ending without a newline has a last line all the same; a trailing newline adds no empty line.
 * 2. The file is cut before every definition at the outermost indentation that has definitions
 *    (usually column 0), so each top-level definition gets its own chunk(s), however small. Text
 *    before the first definition (imports, module docs) forms a chunk of its own.
 * 3. Comments, decorators, annotations and attributes directly above a definition (no blank line in
 *    between, not indented deeper than the definition) move with it.
 * 4. A piece over budget (`maxLines` or `maxChars`) is cut again at the definitions one indentation
 *    level deeper (methods of a class, functions in an `impl`), and so on; a piece over budget with no
 *    definitions inside is cut into line windows. Pieces within budget are never cut again nor merged.
 * 5. Windows split a piece into the fewest windows the line budget allows, of near-equal size, then
 *    end early where the character budget demands. They do not overlap: each line lives in exactly
 *    one chunk, so line numbers, term counts and search hits are never doubled. A single line longer
 *    than `maxChars` is a chunk of its own, over budget, since chunks never split a line.
 * 6. Blank lines (whitespace only) at the start or end of a piece are left out of its chunk, and a
 *    piece of only blank lines gives no chunk.
 *
 * Hence the contract, for any content: chunks are in order and do not overlap; each chunk's content
 * is exactly its lines (`startLine`..`endLine`, line endings included); each chunk starts and ends
 * with a non-blank line; every line outside all chunks is blank. So every non-blank line is in
 * exactly one chunk, and the chunks' contents, with the blank lines between them put back, join to
 * the file.
 */

export type Language = 'typescript' | 'javascript' | 'python' | 'go' | 'rust' | 'java';

export interface ChunkerOptions {
  /** Most lines in one chunk; default 60. */
  maxLines?: number;
  /**
   * Most characters (UTF-16 code units, line endings included) in one chunk; default 3000. A single
   * line longer than this is still one chunk.
   */
  maxChars?: number;
}

export const DEFAULT_MAX_LINES = 60;
export const DEFAULT_MAX_CHARS = 3000;

const EXTENSIONS: ReadonlyMap<string, Language> = new Map<string, Language>([
  ['ts', 'typescript'],
  ['tsx', 'typescript'],
  ['mts', 'typescript'],
  ['cts', 'typescript'],
  ['js', 'javascript'],
  ['jsx', 'javascript'],
  ['mjs', 'javascript'],
  ['cjs', 'javascript'],
  ['py', 'python'],
  ['pyi', 'python'],
  ['go', 'go'],
  ['rs', 'rust'],
  ['java', 'java'],
]);

/** The language of a file, from its extension (case-insensitive), or undefined if not one we split. */
export function languageOf(path: string): Language | undefined {
  const base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  const dot = base.lastIndexOf('.');
  // A leading dot names a hidden file (`.eslintrc`), not an extension.
  if (dot <= 0) return undefined;
  return EXTENSIONS.get(base.slice(dot + 1).toLowerCase());
}

interface DefinitionPattern {
  readonly pattern: RegExp;
  /** Only at column 0: these read as definitions at top level but as plain statements inside a body. */
  readonly topOnly?: boolean;
}

interface LanguageRules {
  /** Tested against a line with its indentation removed. */
  readonly definitions: readonly DefinitionPattern[];
  /** Lines that belong to the definition directly below them (comments, decorators). */
  readonly attached: RegExp;
}

/** `//`, `/*`, and the ` * ...` and ` *\/` lines of a block comment (but not a generator `*gen()`). */
const C_COMMENT = String.raw`\/\/|\/\*|\*(?:\/|\s|$)`;

/** Statements that look like a call followed by a block, and so like a method, in JS and Java. */
const STATEMENT_KEYWORDS = String.raw`(?:if|for|while|switch|catch|with|return|function|do|else|try|new|typeof|await|yield|throw|super|this|void|delete|case)\b`;
const JS_MEMBER_MODIFIERS = `(?:public|private|protected|static|readonly|async|override|abstract|declare|get|set|accessor)`;

const JS_RULES: LanguageRules = {
  definitions: [
    {
      pattern:
        /^(?:(?:export|default|declare|abstract|async)\s+)*(?:function\b|class\b|interface\b|enum\b|namespace\b|module\s+[\w$'"]|type\s+[\w$]+\s*[<=]|const\s+enum\b)/,
    },
    // A binding whose value is a function: `const f = (...) =>`, `let g = async function`, `const h = <T>(`.
    {
      pattern:
        /^(?:export\s+)?(?:declare\s+)?(?:const|let|var)\s+[\w$]+\s*(?::[^=]+)?=\s*(?:async\b\s*)?(?:function\b|\(|[\w$]+\s*=>|<)/,
    },
    // Any exported binding: the module's API, worth a chunk of its own whatever its value.
    { pattern: /^export\s+(?:default\b|(?:const|let|var)\b)/, topOnly: true },
    // Methods, constructors and accessors with a body on the same line: `foo(a: A): B {`.
    {
      pattern: new RegExp(
        String.raw`^(?:${JS_MEMBER_MODIFIERS}\s+)*(?!${STATEMENT_KEYWORDS})[\w$#]+\s*(?:<[^>]*>)?\s*\([^)]*\)\s*(?::\s*[^={]+)?\{\s*$`,
      ),
    },
    // Members with a modifier, whose signature may run over several lines.
    { pattern: new RegExp(String.raw`^(?:${JS_MEMBER_MODIFIERS}\s+)+[\w$#]+\s*[<(]`) },
    // Arrow-function properties: `private onClick = (event) => {`.
    {
      pattern: new RegExp(
        String.raw`^(?:${JS_MEMBER_MODIFIERS}\s+)*[\w$#]+\s*(?::[^=]+)?=\s*(?:async\s+)?(?:\([^)]*\)|[\w$]+)\s*(?::[^=]+)?=>`,
      ),
    },
  ],
  attached: new RegExp(String.raw`^(?:${C_COMMENT}|@[\w$])`),
};

const PYTHON_RULES: LanguageRules = {
  definitions: [{ pattern: /^(?:async\s+)?(?:def|class)\s+\w/ }],
  attached: /^[#@]/,
};

const GO_RULES: LanguageRules = {
  definitions: [
    { pattern: /^(?:func|type)\b/ },
    // Package-level variables and constants; inside a function they are statements.
    { pattern: /^(?:var|const)\b/, topOnly: true },
  ],
  attached: new RegExp(`^(?:${C_COMMENT})`),
};

const RUST_VISIBILITY = String.raw`(?:pub(?:\([^)]*\))?\s+)?`;
const RUST_RULES: LanguageRules = {
  definitions: [
    {
      pattern: new RegExp(
        String.raw`^${RUST_VISIBILITY}(?:(?:default|async|const|unsafe|extern(?:\s+"[^"]*")?)\s+)*(?:fn|struct|enum|impl|trait|mod|union|type|macro_rules!)(?=[\s<{(]|$)`,
      ),
    },
    { pattern: new RegExp(String.raw`^${RUST_VISIBILITY}(?:const|static)\s+(?:mut\s+)?\w+\s*:`) },
  ],
  attached: new RegExp(String.raw`^(?:${C_COMMENT}|#!?\[)`),
};

const JAVA_RULES: LanguageRules = {
  definitions: [
    {
      pattern:
        /^(?:(?:public|protected|private|static|final|abstract|sealed|non-sealed|strictfp)\s+)*(?:class|interface|enum|record|@interface)\s+[\w$]/,
    },
    // Methods: optional modifiers and type parameters, a return type, a name, `(`.
    {
      pattern: new RegExp(
        String.raw`^(?:(?:public|protected|private|static|final|abstract|synchronized|native|default|strictfp)\s+)*(?:<[^>]*>\s+)?(?!${STATEMENT_KEYWORDS})[\w$.]+(?:<[^;=()]*>)?(?:\[\])*\s+[\w$]+\s*\(`,
      ),
    },
    // Constructors, which have no return type.
    { pattern: /^(?:public|protected|private)\s+[\w$]+\s*\(/ },
  ],
  attached: new RegExp(String.raw`^(?:${C_COMMENT}|@[\w$])`),
};

const RULES: Readonly<Record<Language, LanguageRules>> = {
  typescript: JS_RULES,
  javascript: JS_RULES,
  python: PYTHON_RULES,
  go: GO_RULES,
  rust: RUST_RULES,
  java: JAVA_RULES,
};

/**
 * Lines longer than this are never definitions: real signatures are shorter, and matching patterns
 * against minified or generated lines would cost time for nothing.
 */
const MAX_DEFINITION_LINE = 1000;

/** The file as lines: offsets into the content, plus what the rules need to know of each line. */
interface Lines {
  /** Offset of each line's first character; one more entry holds the content's length. */
  readonly starts: number[];
  /** Leading spaces and tabs of each line. */
  readonly indents: number[];
  readonly blank: boolean[];
  /** Each line without its indentation and line ending. */
  readonly texts: string[];
}

function splitLines(content: string): Lines {
  const starts: number[] = [];
  const indents: number[] = [];
  const blank: boolean[] = [];
  const texts: string[] = [];
  let pos = 0;
  while (pos < content.length) {
    const newline = content.indexOf('\n', pos);
    const next = newline === -1 ? content.length : newline + 1;
    let end = newline === -1 ? content.length : newline;
    if (end > pos && content.charCodeAt(end - 1) === 0x0d) end--;
    // A byte-order mark is not indentation: without this a definition on line 1 would look nested.
    const indentStart = pos === 0 && content.charCodeAt(0) === 0xfeff ? 1 : pos;
    let first = indentStart;
    while (first < end && (content.charCodeAt(first) === 0x20 || content.charCodeAt(first) === 0x09)) first++;
    const text = content.slice(first, end);
    starts.push(pos);
    indents.push(first - indentStart);
    blank.push(text.trim() === '');
    texts.push(text);
    pos = next;
  }
  starts.push(content.length);
  return { starts, indents, blank, texts };
}

function resolveBudget(options: ChunkerOptions): { maxLines: number; maxChars: number } {
  const maxLines = options.maxLines ?? DEFAULT_MAX_LINES;
  const maxChars = options.maxChars ?? DEFAULT_MAX_CHARS;
  if (!Number.isInteger(maxLines) || maxLines < 1) {
    throw new RangeError(`maxLines must be a positive integer, got ${maxLines}`);
  }
  if (!Number.isInteger(maxChars) || maxChars < 1) {
    throw new RangeError(`maxChars must be a positive integer, got ${maxChars}`);
  }
  return { maxLines, maxChars };
}

/** Half-open range of 0-based line indices. */
type Range = readonly [start: number, end: number];

/**
 * The chunks of one file; see the module comment for the rules and the contract. `path` is only
 * copied into the chunks (and picks the language); `content` is never changed.
 */
export function chunkFile(path: string, content: string, options: ChunkerOptions = {}): Chunk[] {
  const { maxLines, maxChars } = resolveBudget(options);
  const lines = splitLines(content);
  const count = lines.texts.length;
  if (count === 0) return [];
  const language = languageOf(path);
  const rules = language === undefined ? undefined : RULES[language];

  const isDefinition: boolean[] = new Array<boolean>(count).fill(false);
  if (rules !== undefined) {
    for (let i = 0; i < count; i++) {
      const text = lines.texts[i] as string;
      if (lines.blank[i] || text.length > MAX_DEFINITION_LINE) continue;
      const indent = lines.indents[i] as number;
      isDefinition[i] = rules.definitions.some(
        (d) => (indent === 0 || d.topOnly !== true) && d.pattern.test(text),
      );
    }
  }

  /** Without its blank first and last lines, which never join a chunk and so never count against budget. */
  const trim = (start: number, end: number): Range => {
    while (start < end && lines.blank[start]) start++;
    while (end > start && lines.blank[end - 1]) end--;
    return [start, end];
  };

  const fits = (start: number, end: number): boolean =>
    end - start <= maxLines && (lines.starts[end] as number) - (lines.starts[start] as number) <= maxChars;

  const ranges: Range[] = [];

  const windows = (rangeStart: number, rangeEnd: number): void => {
    const [start, end] = trim(rangeStart, rangeEnd);
    if (start === end) return;
    if (fits(start, end)) {
      ranges.push([start, end]);
      return;
    }
    let from = start;
    while (from < end) {
      // Recomputed for the lines left, so windows stay near-equal even after one is cut short by maxChars.
      const remaining = end - from;
      const target = Math.ceil(remaining / Math.ceil(remaining / maxLines));
      // The first line always goes in, so a line longer than maxChars cannot stall the loop.
      let to = from + 1;
      while (to < end && to - from < target && fits(from, to + 1)) to++;
      ranges.push([from, to]);
      from = to;
    }
  };

  /** Whether line `i` belongs with a definition at indentation `indent` directly below it. */
  const attaches = (i: number, indent: number): boolean => {
    if (rules === undefined || lines.blank[i] || isDefinition[i]) return false;
    const text = lines.texts[i] as string;
    // Block comment continuation lines (` * ...`) sit one column right of their `/**`.
    const slack = text.startsWith('*') ? 1 : 0;
    return (lines.indents[i] as number) <= indent + slack && rules.attached.test(text);
  };

  /**
   * Cuts [start, end) before the definitions at the shallowest indentation deeper than `outer`, then
   * recurses into pieces over budget. `always` cuts even a piece within budget (the whole file).
   * Terminates: each level of recursion looks strictly deeper, and windows always make progress.
   */
  const split = (rangeStart: number, rangeEnd: number, outer: number, always: boolean): void => {
    const [start, end] = trim(rangeStart, rangeEnd);
    if (start === end) return;
    if (!always && fits(start, end)) {
      ranges.push([start, end]);
      return;
    }
    let level = Number.POSITIVE_INFINITY;
    for (let i = start; i < end; i++) {
      const indent = lines.indents[i] as number;
      if (isDefinition[i] && indent > outer && indent < level) level = indent;
    }
    if (level === Number.POSITIVE_INFINITY) {
      windows(start, end);
      return;
    }
    let pieceStart = start;
    let floor = start;
    for (let i = start; i < end; i++) {
      if (!isDefinition[i] || lines.indents[i] !== level) continue;
      let cut = i;
      while (cut > floor && attaches(cut - 1, level)) cut--;
      if (cut > pieceStart) {
        split(pieceStart, cut, level, false);
        pieceStart = cut;
      }
      floor = i + 1;
    }
    split(pieceStart, end, level, false);
  };

  split(0, count, -1, true);

  const chunks: Chunk[] = [];
  for (const range of ranges) {
    // Windows can still begin or end on a blank line inside a piece.
    const [start, end] = trim(range[0], range[1]);
    if (start === end) continue;
    chunks.push({
      path,
      startLine: start + 1,
      endLine: end,
      content: content.slice(lines.starts[start], lines.starts[end]),
    });
  }
  return chunks;
}
