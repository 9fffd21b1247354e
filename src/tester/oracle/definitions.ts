/**
 * Which names a chunk defines, for hybrid search's definitions bonus, written out from the search
 * spec (src/index/definitions.ts's rules) line by line, not imported, so that a mistake there
 * shows up as a difference. A line defines a name when, after its indentation:
 * - modifiers, then a definition keyword, then the name (any indentation);
 * - at column 0 only: modifiers, then const/let/var/static (Rust's `mut` allowed), then the name;
 * - indented, a method: member modifiers, optionally a return type word, a name that is not a
 *   statement keyword, optional type parameters, `(params)` on the line, optional `: type` and
 *   `throws ...`, and `{` closing the line.
 */

const MODIFIER_WORDS = new Set([
  'export',
  'default',
  'declare',
  'abstract',
  'async',
  'public',
  'private',
  'protected',
  'static',
  'final',
  'unsafe',
  'override',
  'readonly',
]);
const KEYWORDS = new Set([
  'function',
  'function*',
  'class',
  'interface',
  'type',
  'enum',
  'namespace',
  'def',
  'fn',
  'func',
  'struct',
  'trait',
  'impl',
  'mod',
  'record',
]);
const BINDINGS = new Set(['const', 'let', 'var', 'static']);
const MEMBER_MODIFIERS = new Set([
  'public',
  'private',
  'protected',
  'static',
  'readonly',
  'async',
  'override',
  'abstract',
  'get',
  'set',
  'final',
  'synchronized',
]);
const STATEMENTS = new Set(
  'if for while switch catch with return function do else try new typeof await yield throw super this void delete case constructor'.split(
    ' ',
  ),
);

const isNameStart = (ch: string) => /^[\p{L}_$]$/u.test(ch);
const isNameChar = (ch: string) => /^[\p{L}\p{M}\p{N}_$]$/u.test(ch);

/** The name at the start of `text`, or undefined. */
function leadingName(text: string): string | undefined {
  const chars = [...text];
  if (chars.length === 0 || !isNameStart(chars[0] as string)) return undefined;
  let end = 1;
  while (end < chars.length && isNameChar(chars[end] as string)) end++;
  return chars.slice(0, end).join('');
}

/** Drops leading modifiers (`pub` and `pub(crate)` too) and the spaces or tabs after each. */
function skipModifiers(text: string, words: ReadonlySet<string>, rustPub: boolean): string {
  let rest = text;
  for (;;) {
    const m = /^([^ \t]+?)([ \t]+)/.exec(rest);
    const pub = rustPub ? /^pub(?:\([^)\n]*\))?[ \t]+/.exec(rest) : null;
    if (pub !== null) {
      rest = rest.slice(pub[0].length);
    } else if (m !== null && words.has(m[1] as string)) {
      rest = rest.slice(m[0].length);
    } else {
      return rest;
    }
  }
}

function keywordDefinition(line: string): string | undefined {
  const rest = skipModifiers(line.replace(/^[ \t]*/, ''), MODIFIER_WORDS, true);
  const keyword = /^(function\*?|[a-z]+)/.exec(rest)?.[1];
  if (keyword === undefined || !KEYWORDS.has(keyword)) return undefined;
  let after = rest.slice(keyword.length);
  if (keyword === 'func') after = after.replace(/^[ \t]*\([^)\n]*\)/, '');
  const gap = /^[ \t]+/.exec(after);
  if (gap === null) return undefined;
  return leadingName(after.slice(gap[0].length));
}

function moduleBinding(line: string): string | undefined {
  if (/^[ \t]/.test(line)) return undefined;
  const rest = skipModifiers(line, MODIFIER_WORDS, true);
  const m = /^(const|let|var|static)[ \t]+(?:mut[ \t]+)?/.exec(rest);
  if (m === null || !BINDINGS.has(m[1] as string)) return undefined;
  return leadingName(rest.slice(m[0].length));
}

function method(line: string): string | undefined {
  if (!/^[ \t]+/.test(line)) return undefined;
  const body = line.replace(/\r$/, '');
  if (!/\{[ \t]*$/.test(body)) return undefined;
  const rest = skipModifiers(body.replace(/^[ \t]+/, ''), MEMBER_MODIFIERS, false);
  // Optionally a return type (Java): a word of type characters, then spaces, before the name.
  // The spec's pattern tries the typed reading first.
  const candidates: string[] = [];
  const typed = /^[\w$.<>[\],?]+[ \t]+/.exec(rest);
  if (typed !== null) candidates.push(rest.slice(typed[0].length));
  candidates.push(rest);
  for (const text of candidates) {
    const name = leadingName(text);
    if (name === undefined || STATEMENTS.has(name)) continue;
    // The statement check in the spec is a word-boundary match: `iffy` is a name, `if` is not.
    if ([...STATEMENTS].some((s) => name.startsWith(s) && !/^[\w]/.test(name.slice(s.length)))) continue;
    const tail = text.slice(name.length);
    if (/^[ \t]*(?:<[^>\n]*>)?\([^)\n]*\)[ \t]*(?::[^={\n]+)?(?:throws[^{\n]+)?\{[ \t]*$/.test(tail))
      return name;
  }
  return undefined;
}

/** One spelling for a name: NFKC, lower case, letters, marks and digits only. */
export function normalName(name: string): string {
  return [...name.normalize('NFKC').toLowerCase()].filter((ch) => /[\p{L}\p{M}\p{N}]/u.test(ch)).join('');
}

/** The names `content` defines, as spelled. */
export function definitionNamesOf(content: string): Set<string> {
  const names = new Set<string>();
  for (const line of content.split('\n')) {
    for (const rule of [keywordDefinition, moduleBinding, method]) {
      const name = rule(line);
      if (name !== undefined) names.add(name);
    }
  }
  return names;
}

/** The normalised names `content` defines. */
export function definedNamesOf(content: string): Set<string> {
  return new Set([...definitionNamesOf(content)].map(normalName));
}

/** The query's words of 3 characters or more (normalised), and those spelled as identifiers (as is). */
export function queriedNames(query: string): { loose: Set<string>; exact: Set<string> } {
  const loose = new Set<string>();
  const exact = new Set<string>();
  for (const word of query.split(/[^\p{L}\p{M}\p{N}_$]+/u)) {
    const name = normalName(word);
    if ([...name].length < 3) continue;
    loose.add(name);
    if (/[\p{Lu}\p{N}_]/u.test(word)) exact.add(word);
  }
  return { loose, exact };
}

/** `strong` for an exact identifier definition, `weak` for a loose one, else 0. */
export function definitionBonusOf(
  content: string,
  wanted: { loose: ReadonlySet<string>; exact: ReadonlySet<string> },
  strong: number,
  weak: number,
): number {
  const names = [...definitionNamesOf(content)];
  if (names.some((n) => wanted.exact.has(n))) return strong;
  if (names.some((n) => wanted.loose.has(normalName(n)))) return weak;
  return 0;
}
