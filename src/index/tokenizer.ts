/**
 * Turns text into search terms. One tokenizer serves BM25 and the hashing embedder, so a query and
 * the code it should find always agree on what a word is.
 *
 * Code identifiers are kept whole (lower-cased) and also split into their parts, so `parseHttpRequest`
 * matches both the exact identifier and a query for "http request".
 *
 * The scanner walks char codes by hand instead of using regular expressions: it is on the hot path
 * of indexing (every chunk is tokenized for BM25 and for the embedder) and is several times faster.
 * Its terms are exactly those of the regular-expression definition it replaced:
 *   words:  /[A-Za-z_][A-Za-z0-9_]*|[0-9]+/g
 *   parts:  each `_`-separated piece of a word matched by /[A-Z]+(?![a-z])|[A-Z]?[a-z]+|[0-9]+/g
 * (tests/index/tokenizer.test.ts checks the two against each other on random text).
 * Only ASCII letters and digits form words; every other UTF-16 code unit separates them.
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

/**
 * Pushes the terms of the word `text[start, end)` (at most MAX_TERM_LENGTH long): the word itself,
 * lower-cased, then its parts when it has more than one. `bounds` is scratch space reused across
 * words (pairs of part start and end) so the hot loop allocates only the terms it returns.
 */
function pushWordTerms(text: string, start: number, end: number, terms: string[], bounds: number[]): void {
  const whole = text.slice(start, end).toLowerCase();
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
    const part = text.slice(s, e).toLowerCase();
    if (part !== whole) terms.push(part);
  }
}

/**
 * All terms of a text, in order, with repeats. Each identifier yields itself (lower-cased) and,
 * when it has more than one part, its parts. Single characters are dropped: they carry no meaning
 * in code and would dominate the postings. Words longer than 64 characters are dropped whole.
 */
export function tokenize(text: string): string[] {
  const terms: string[] = [];
  const bounds: number[] = [];
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
