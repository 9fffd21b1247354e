/**
 * Turns text into search terms. One tokenizer serves BM25 and the hashing embedder, so a query and
 * the code it should find always agree on what a word is.
 *
 * Code identifiers are kept whole (lower-cased) and also split into their parts, so `parseHttpRequest`
 * matches both the exact identifier and a query for "http request". Every term then goes through
 * a light English stemmer (stem.ts's rules, below), so "exits", "exited" and "exiting" are one term.
 *
 * Words are runs of letters, marks, digits and `_` in any script: `größe`, `функция`, `naïveSum`.
 * Text with non-ASCII characters is NFKC-normalised first (full-width `ＡＢＣ` is `abc`), and case
 * is folded with toLowerCase, which, unlike toLocaleLowerCase, is the same on every machine.
 * Han, Hiragana, Katakana and Hangul have no spaces between words, so a run of them gives its
 * character bigrams (`日本語` gives 日本, 本語), or the character itself when it stands alone; such
 * a run also ends any word it touches.
 *
 * The scanner walks char codes by hand instead of using regular expressions on ASCII text: it is on
 * the hot path of indexing (every chunk is tokenized for BM25 and for the embedder). For ASCII its
 * words and parts are, before stemming, those of the regular-expression definition it replaced:
 *   words:  /[A-Za-z_][A-Za-z0-9_]*|[0-9]+/g
 *   parts:  each `_`-separated piece of a word matched by /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g
 * Words with other letters are split by the same rule with Unicode's upper- and lower-case classes.
 */

/** Longer words are dropped whole: hashes, base64 and minified code, not words anyone searches for. */
export const MAX_TERM_LENGTH = 64;
/** Shorter terms are dropped: single characters carry no meaning in code and would dominate postings. */
export const MIN_TERM_LENGTH = 2;
const UNDERSCORE = 95;

const isUpper = (c: number): boolean => c >= 65 && c <= 90;
const isLower = (c: number): boolean => c >= 97 && c <= 122;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;
const isWordStart = (c: number): boolean => isUpper(c) || isLower(c) || c === UNDERSCORE;
const isWordChar = (c: number): boolean => isWordStart(c) || isDigit(c);

/**
 * End (exclusive) of the identifier part that starts at `start`, whose first char code is `c`
 * (an ASCII letter or digit), scanning no further than `end`. Digits run together; lower-case
 * letters run together; an upper-case run is one part (an acronym), except that its last letter
 * starts the next word when lower-case letters follow (`HTTPServer` gives HTTP, Server), and a
 * single capital takes the lower-case letters after it (`Server`).
 */
function partEnd(text: string, start: number, end: number, c: number): number {
  let m = start + 1;
  if (isDigit(c)) {
    while (m < end && isDigit(text.charCodeAt(m))) m++;
  } else if (isLower(c)) {
    while (m < end && isLower(text.charCodeAt(m))) m++;
  } else {
    while (m < end && isUpper(text.charCodeAt(m))) m++;
    if (m < end && isLower(text.charCodeAt(m))) {
      if (m - start >= 2) m -= 1;
      else while (m < end && isLower(text.charCodeAt(m))) m++;
    }
  }
  return m;
}

/** Parts of one identifier, lower-cased: `parseHTTPRequest_v2` gives parse, http, request, v, 2. */
export function identifierParts(identifier: string): string[] {
  const parts: string[] = [];
  const n = identifier.length;
  let k = 0;
  while (k < n) {
    const c = identifier.charCodeAt(k);
    if (!isUpper(c) && !isLower(c) && !isDigit(c)) {
      k++;
      continue;
    }
    const m = partEnd(identifier, k, n, c);
    parts.push(identifier.slice(k, m).toLowerCase());
    k = m;
  }
  return parts;
}

/** A letter, mark or digit outside ASCII that can be part of a word (not a CJK character). */
const UNICODE_WORD = /[\p{L}\p{M}\p{N}]/u;
/** Scripts written without spaces between words: tokenized as character bigrams. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}]/u;
// biome-ignore lint/suspicious/noControlCharactersInRegex: the range is all of ASCII, controls included
const NON_ASCII = /[^\x00-\x7f]/;
/** Parts of a word with non-ASCII letters: the ASCII rule with Unicode's letter classes. */
const UNICODE_PART =
  /[\p{Lu}\p{Lt}]+(?![\p{Ll}\p{Lo}\p{Lm}])[\p{M}]*|[\p{Lu}\p{Lt}]?[\p{Ll}\p{Lo}\p{Lm}\p{M}]+|\p{N}+/gu;

/** 0: separator, 1: word character, 2: CJK character, for the code point starting at `i`. */
function classifyNonAscii(cp: number): 0 | 1 | 2 {
  const ch = String.fromCodePoint(cp);
  if (CJK.test(ch)) return 2;
  return UNICODE_WORD.test(ch) ? 1 : 0;
}

const isConsonant = (c: number): boolean =>
  isLower(c) && c !== 97 && c !== 101 && c !== 105 && c !== 111 && c !== 117;

/**
 * A light English stemmer, the same for index and query: plurals (`entries` entry, `processes`
 * process, `chunks` chunk), then `-ing` and `-ed` (with a doubled final consonant undone:
 * `embedding` embed, `running` run), then a final `e` (`parse`, `parsed`, `parsing` all give pars).
 * Terms under 4 characters, and endings that would leave under 3, are left alone.
 */
export function stem(term: string): string {
  let t = term;
  let n = t.length;
  if (n < 4) return t;
  const last = t.charCodeAt(n - 1);
  if (last === 115 /* s */) {
    const prev = t.charCodeAt(n - 2);
    if (prev === 115 /* ss */ || prev === 117 /* us */ || prev === 105 /* is */) {
      if (!t.endsWith('sses')) return t;
      t = t.slice(0, -2);
    } else if (t.endsWith('ies')) {
      if (n > 4) t = `${t.slice(0, -3)}y`;
    } else if (prev === 101 && /(?:[sxz]|ch|sh)es$/.test(t)) {
      t = t.slice(0, -2);
    } else {
      t = t.slice(0, -1);
    }
    n = t.length;
  } else if ((last === 103 && t.endsWith('ing') && n >= 6) || (last === 100 && t.endsWith('ed') && n >= 5)) {
    t = t.slice(0, last === 103 ? -3 : -2);
    n = t.length;
    const c = t.charCodeAt(n - 1);
    if (n >= 4 && c === t.charCodeAt(n - 2) && isConsonant(c) && c !== 108 && c !== 115 && c !== 122) {
      t = t.slice(0, -1);
      n--;
    }
  }
  if (n >= 5 && t.charCodeAt(n - 1) === 101 /* e */) t = t.slice(0, -1);
  return t;
}

/**
 * Pushes the terms of the ASCII word `text[start, end)` (at most MAX_TERM_LENGTH long): the word
 * itself, lower-cased, then its parts when it has more than one, each stemmed. `bounds` is scratch
 * space reused across words (pairs of part start and end) so the hot loop allocates only the terms
 * it returns.
 */
function pushWordTerms(text: string, start: number, end: number, terms: string[], bounds: number[]): void {
  const whole = stem(text.slice(start, end).toLowerCase());
  if (whole.length >= MIN_TERM_LENGTH) terms.push(whole);
  bounds.length = 0;
  let k = start;
  while (k < end) {
    const c = text.charCodeAt(k);
    if (c === UNDERSCORE) {
      k++;
      continue;
    }
    const m = partEnd(text, k, end, c);
    bounds.push(k, m);
    k = m;
  }
  if (bounds.length <= 2) return;
  for (let p = 0; p < bounds.length; p += 2) {
    const s = bounds[p] as number;
    const e = bounds[p + 1] as number;
    if (e - s < MIN_TERM_LENGTH) continue;
    const part = stem(text.slice(s, e).toLowerCase());
    if (part !== whole) terms.push(part);
  }
}

/** Length in code points: the Unicode path's idea of a single character. */
function codePoints(text: string): number {
  let n = 0;
  for (const _ of text) n++;
  return n;
}

/** The terms of a word with non-ASCII letters, by the same rules as pushWordTerms. */
function pushUnicodeWordTerms(word: string, terms: string[]): void {
  if (word.length > MAX_TERM_LENGTH) return;
  const fold = (w: string) => stem(w.toLowerCase().normalize('NFKC'));
  const whole = fold(word);
  if (codePoints(whole) > 1) terms.push(whole);
  const parts: string[] = [];
  for (const piece of word.split('_')) for (const m of piece.matchAll(UNICODE_PART)) parts.push(m[0]);
  if (parts.length <= 1) return;
  for (const raw of parts) {
    if (codePoints(raw) < 2) continue;
    const part = fold(raw);
    if (part !== whole) terms.push(part);
  }
}

/** Bigrams of a run of CJK characters (code points), or the character when it stands alone. */
function pushCjkTerms(chars: readonly string[], terms: string[]): void {
  if (chars.length === 1) {
    terms.push(chars[0] as string);
    return;
  }
  for (let k = 0; k + 1 < chars.length; k++) terms.push(`${chars[k]}${chars[k + 1]}`);
}

/** tokenize for text with non-ASCII characters: code point by code point. */
function tokenizeUnicode(text: string, terms: string[], bounds: number[]): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c < 128 && !isWordChar(c)) {
      i++;
      continue;
    }
    const cp = c < 128 ? c : (text.codePointAt(i) as number);
    const kind = c < 128 ? 1 : classifyNonAscii(cp);
    if (kind === 0) {
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    if (kind === 2) {
      const chars: string[] = [];
      while (i < n) {
        const p = text.codePointAt(i) as number;
        if (p < 128 || classifyNonAscii(p) !== 2) break;
        const ch = String.fromCodePoint(p);
        chars.push(ch);
        i += ch.length;
      }
      pushCjkTerms(chars, terms);
      continue;
    }
    // A word: ASCII word characters and non-CJK letters, marks and digits. A word that starts
    // with an ASCII digit run is that run alone, as in the ASCII scanner.
    let j = i;
    let ascii = true;
    if (isDigit(c)) {
      while (j < n && isDigit(text.charCodeAt(j))) j++;
    } else {
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d < 128) {
          if (!isWordChar(d)) break;
          j++;
          continue;
        }
        const p = text.codePointAt(j) as number;
        if (classifyNonAscii(p) !== 1) break;
        ascii = false;
        j += p > 0xffff ? 2 : 1;
      }
    }
    if (ascii) {
      if (j - i <= MAX_TERM_LENGTH) pushWordTerms(text, i, j, terms, bounds);
    } else {
      pushUnicodeWordTerms(text.slice(i, j), terms);
    }
    i = j;
  }
}

/**
 * All terms of a text, in order, with repeats. Each identifier yields itself (lower-cased) and,
 * when it has more than one part, its parts, all stemmed. Single characters are dropped (except a
 * lone CJK character): they carry no meaning in code and would dominate the postings. Words longer
 * than 64 characters (UTF-16 code units) are dropped whole.
 */
export function tokenize(text: string): string[] {
  const terms: string[] = [];
  const bounds: number[] = [];
  if (NON_ASCII.test(text)) {
    tokenizeUnicode(text.normalize('NFKC'), terms, bounds);
    return terms;
  }
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    let j = i + 1;
    if (isWordStart(c)) {
      while (j < n && isWordChar(text.charCodeAt(j))) j++;
    } else if (isDigit(c)) {
      while (j < n && isDigit(text.charCodeAt(j))) j++;
    } else {
      i = j;
      continue;
    }
    if (j - i <= MAX_TERM_LENGTH) pushWordTerms(text, i, j, terms, bounds);
    i = j;
  }
  return terms;
}

/** Term frequencies of a text. */
export function termFrequencies(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const term of tokenize(text)) counts.set(term, (counts.get(term) ?? 0) + 1);
  return counts;
}
