/**
 * The names a chunk really defines, for hybrid search's definitions boost: functions, classes,
 * methods, interfaces, types, enums and module-level bindings, across the languages the chunker
 * splits. A binding inside a body (`  const subprocess = spawn(...)`, indented) is a local, not a
 * definition: the boost is for "where is X defined", and a local named like a query word is not
 * where anything is defined.
 *
 * Rules, per line of the chunk (a chunk keeps its file's indentation, so column 0 is top level):
 * - at any indentation, optional modifiers (`export`, `async`, `pub`, `static`, ...), then one of
 *   `function`, `class`, `interface`, `type`, `enum`, `namespace`, `def`, `fn`, `func` (Go's
 *   receiver allowed), `struct`, `trait`, `impl`, `mod`, `record`, then the name;
 * - at column 0 only, optional modifiers, then `const`, `let`, `var` or `static`, then the name
 *   (a module's constants and function bindings, exported or not);
 * - indented, a method: optional member modifiers, a name that is no statement keyword, a
 *   parameter list on the line, an optional return type, and `{` ending the line (TS/JS/Java), or
 *   modifiers and a Java return type before the name.
 */

const MODIFIERS = String.raw`(?:(?:export|default|declare|abstract|async|pub(?:\([^)\n]*\))?|public|private|protected|static|final|unsafe|override|readonly)[ \t]+)*`;
const NAME = String.raw`([\p{L}_$][\p{L}\p{M}\p{N}_$]*)`;

const KEYWORD_DEFINITION = new RegExp(
  String.raw`^[ \t]*${MODIFIERS}(?:function\*?|class|interface|type|enum|namespace|def|fn|func(?:[ \t]*\([^)\n]*\))?|struct|trait|impl|mod|record)[ \t]+${NAME}`,
  'u',
);
const MODULE_BINDING = new RegExp(
  String.raw`^${MODIFIERS}(?:const|let|var|static)[ \t]+(?:mut[ \t]+)?${NAME}`,
  'u',
);
const STATEMENT = String.raw`(?:if|for|while|switch|catch|with|return|function|do|else|try|new|typeof|await|yield|throw|super|this|void|delete|case|constructor)\b`;
const METHOD = new RegExp(
  String.raw`^[ \t]+(?:(?:public|private|protected|static|readonly|async|override|abstract|get|set|final|synchronized)[ \t]+)*(?:[\w$.<>\[\],?]+[ \t]+)?(?!${STATEMENT})${NAME}[ \t]*(?:<[^>\n]*>)?\([^)\n]*\)[ \t]*(?::[^={\n]+)?(?:throws[^{\n]+)?\{[ \t]*\r?$`,
  'u',
);

/** One spelling for `parseHttpRequest`, `parse_http_request` and `ParseHTTPRequest`: folded letters and digits. */
export function normalName(name: string): string {
  return name
    .normalize('NFKC')
    .toLowerCase()
    .replace(/[^\p{L}\p{M}\p{N}]/gu, '');
}

/** The names `content` defines, as spelled. */
export function definitionNames(content: string): Set<string> {
  // Lines end at `\n` only, as the chunker's do: a regular expression's `^` in multiline mode
  // would also start a line after U+2028 or a lone `\r`.
  const names = new Set<string>();
  for (const line of content.split('\n')) {
    for (const pattern of [KEYWORD_DEFINITION, MODULE_BINDING, METHOD]) {
      const name = pattern.exec(line)?.[1];
      if (name !== undefined) names.add(name);
    }
  }
  return names;
}

/** The normalised names `content` defines. */
export function definedNames(content: string): Set<string> {
  return new Set([...definitionNames(content)].map(normalName));
}

/** What a query may be asking the definition of. */
export interface QueriedNames {
  /** Its words of 3 characters or more, normalised. */
  readonly loose: ReadonlySet<string>;
  /** Its words that are spelled as identifiers (a capital, `_` or digit in them), as spelled. */
  readonly exact: ReadonlySet<string>;
}

export function queriedNames(query: string): QueriedNames {
  const loose = new Set<string>();
  const exact = new Set<string>();
  for (const m of query.matchAll(/[\p{L}\p{M}\p{N}_$]+/gu)) {
    const name = normalName(m[0]);
    if ([...name].length < 3) continue;
    loose.add(name);
    if (/[\p{Lu}\p{N}_]/u.test(m[0])) exact.add(m[0]);
  }
  return { loose, exact };
}

/**
 * The definitions bonus of a chunk: `strong` when it defines, spelled exactly so, a name the
 * query spells as an identifier (`KillOwner` finds `class KillOwner` before `killOwner()`),
 * `weak` when it defines a queried word in another spelling or case, else 0.
 */
export function definitionBonus(content: string, wanted: QueriedNames, strong: number, weak: number): number {
  if (wanted.loose.size === 0) return 0;
  let bonus = 0;
  for (const name of definitionNames(content)) {
    if (wanted.exact.has(name)) return strong;
    if (wanted.loose.has(normalName(name))) bonus = weak;
  }
  return bonus;
}
