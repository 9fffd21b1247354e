import type { Mutant } from './mutant.js';

/** A mutant whose snippet is not in its file exactly once: a catalog entry to fix, not a crash. */
export class MutantDoesNotApply extends Error {
  constructor(
    readonly mutant: Mutant,
    readonly found: number,
  ) {
    super(
      `does not apply: ${mutant.file} has ${found === 0 ? 'no' : `several (${found})`} ${shownSnippet(mutant.find)}`,
    );
    this.name = 'MutantDoesNotApply';
  }
}

/** A snippet on one line and short enough for a table cell or a log line. */
export function shownSnippet(snippet: string, max = 70): string {
  const quoted = JSON.stringify(snippet);
  return quoted.length > max ? `${quoted.slice(0, max - 2)}…"` : quoted;
}

/** Non-overlapping occurrences, the way a search/replace would see them. */
export function occurrences(text: string, snippet: string): number {
  if (snippet === '') return 0;
  let count = 0;
  for (let at = text.indexOf(snippet); at !== -1; at = text.indexOf(snippet, at + snippet.length)) count++;
  return count;
}

/**
 * The file's text with the mutant applied. An empty `find` counts as absent, and a `replace` equal
 * to `find` is refused: either would "apply" and change nothing, and the table would credit the
 * tester with catching, or blame it for missing, a bug that is not there.
 */
export function applyMutant(source: string, mutant: Mutant): string {
  if (mutant.find === mutant.replace) {
    throw new Error(`mutant ${mutant.id} replaces its snippet with itself; it would change nothing`);
  }
  const found = occurrences(source, mutant.find);
  if (found !== 1) throw new MutantDoesNotApply(mutant, found);
  const at = source.indexOf(mutant.find);
  return source.slice(0, at) + mutant.replace + source.slice(at + mutant.find.length);
}
