import { identifierParts } from '../../index/tokenizer.js';

/**
 * Which chunks hybrid search moves to the front: those that define an identifier the query names.
 * Written out from the search spec (docs of `definitionsFirst` in src/index/search.ts), not
 * imported, so that a mistake there shows up as a difference.
 */

/** Words that may precede a definition's keyword, any number of them, each followed by whitespace. */
const MODIFIERS = [
  'export',
  'default',
  'declare',
  'abstract',
  'async',
  String.raw`pub(?:\([^)]*\))?`,
  'public',
  'private',
  'protected',
  'static',
  'final',
  'unsafe',
];

/** Keywords that introduce a named definition; Go's `func` may carry a receiver, `(r *T)`. */
const KEYWORDS = [
  String.raw`function\*?`,
  'class',
  'interface',
  'type',
  'enum',
  'const',
  'let',
  'var',
  'def',
  'fn',
  String.raw`func(?:\s*\([^)]*\))?`,
  'struct',
  'trait',
  'impl',
  'mod',
  'record',
];

/**
 * A definition: at the start of a line (after spaces or tabs), modifiers, a keyword, whitespace,
 * then the name (group 1). Whitespace here is `\s`, which spans line breaks, as in the index.
 */
const DEFINITION = new RegExp(
  String.raw`^[ \t]*(?:(?:${MODIFIERS.join('|')})\s+)*(?:${KEYWORDS.join('|')})\s+([A-Za-z_$][\w$]*)`,
  'gm',
);

/** An identifier of a query, as hybrid search reads one: three characters at least. */
const QUERY_IDENTIFIER = /[A-Za-z_$][\w$]{2,}/g;

/** One spelling for `parseHttpRequest`, `parse_http_request` and `ParseHTTPRequest`. */
export function normalName(name: string): string {
  return identifierParts(name).join('');
}

/** The normalised names the query asks for; empty when it names nothing definitions-first cares about. */
export function queriedNames(query: string): Set<string> {
  return new Set(Array.from(query.matchAll(QUERY_IDENTIFIER), (m) => normalName(m[0])));
}

/** The normalised names `content` defines. */
export function definedNamesOf(content: string): Set<string> {
  return new Set(Array.from(content.matchAll(DEFINITION), (m) => normalName(m[1] as string)));
}

/** Whether `content` defines one of `wanted`. */
export function definesAny(content: string, wanted: ReadonlySet<string>): boolean {
  if (wanted.size === 0) return false;
  for (const name of definedNamesOf(content)) if (wanted.has(name)) return true;
  return false;
}

/** Stable partition: the items `first` accepts, in their order, then the others, in theirs. */
export function stablePartition<T>(items: readonly T[], first: (item: T) => boolean): T[] {
  const head: T[] = [];
  const tail: T[] = [];
  for (const item of items) (first(item) ? head : tail).push(item);
  return [...head, ...tail];
}
