/**
 * A seeded bug: one search/replace in one file of a copy of the tree. A snippet rather than a diff,
 * so that edits elsewhere in the same file (other people's, every day) do not stop it applying;
 * `find` must occur exactly once, so that it cannot land somewhere nobody meant.
 */
export interface Mutant {
  /** Short, stable, kebab-case: what the table and `--only` call it. */
  readonly id: string;
  /**
   * The strategy whose stress run should catch it (`--strategy S`), or `serve`: the serve target
   * (`--target serve`), which drives real `embecode serve` processes.
   */
  readonly strategy: string;
  /** The bug, as a reviewer would describe it in a bug report. */
  readonly description: string;
  /** Path from the package root. */
  readonly file: string;
  readonly find: string;
  readonly replace: string;
}

/** The `strategy` of mutants that the serve target must catch. */
export const SERVE_TARGET = 'serve';

/** The `embecode-stress run` flags that choose what a mutant's runs drive. */
export function targetArgs(strategy: string): string[] {
  return strategy === SERVE_TARGET ? ['--target', 'serve'] : ['--strategy', strategy];
}
