/**
 * Content tokens: each owner write plants one word that exists nowhere else, so a search for it
 * has exactly one right answer. Tokens are letters only, so the tokenizer keeps them whole.
 */

/** The sequence's digits: every letter but the separator 'x', so the first 'x' ends the sequence. */
const LETTERS = 'abcdefghijklmnopqrstuvwyz';
export const TOKEN_PREFIX = 'zq';
const TOKEN_PATTERN = /\bzq[a-z]+\b/g;

/** Encodes the write's sequence number in letters, so tokens are unique within a run by construction. */
function letters(n: number): string {
  let out = '';
  let rest = n;
  do {
    out = LETTERS[rest % LETTERS.length] + out;
    rest = Math.floor(rest / LETTERS.length);
  } while (rest > 0);
  return out;
}

/**
 * `zq` + sequence in letters + `x` + a generated suffix (varies content, shrinks to 'a'). The
 * sequence letters never contain 'x', so two sequences never give one token, whatever the suffixes.
 */
export function makeToken(sequence: number, suffix: string): string {
  return `${TOKEN_PREFIX}${letters(sequence)}x${suffix}`;
}

/** Every token that appears in a text (a search result's preview). */
export function tokensIn(text: string): string[] {
  return text.match(TOKEN_PATTERN) ?? [];
}

/** A file body around a token: a small function, so the chunker and embedder do real work. */
export function fileContent(path: string, token: string, fillerLines: number): string {
  const name = path.replace(/[^A-Za-z0-9]/g, '_');
  const lines = [`// ${token}`, `export function handle_${name}(input: string): string {`];
  for (let i = 0; i < fillerLines; i++) lines.push(`  const step${i} = input.length + ${i};`);
  lines.push(`  return '${token}' + input;`, '}');
  return `${lines.join('\n')}\n`;
}

export const ABSENT_TOKEN = `${TOKEN_PREFIX}absent`;
