import {
  copyFileSync,
  cpSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { onTerminate } from '../../src/process/cleanup.js';
import { applyMutant } from './apply.js';
import { killAllGroups, runInGroup } from './group-process.js';
import type { Mutant } from './mutant.js';

/**
 * A throw-away copy of the package: just what `tsc -p tsconfig.json` compiles (its `include`) and
 * what the built CLI needs at run time (package.json, which its children use to find the package
 * root, and node_modules, linked rather than copied: it is large and never mutated). Tests, dist and
 * the stress artifacts of the real tree are left out.
 */
const COPIED_DIRS = ['src', 'helpers', 'bench'] as const;
const COPIED_FILES = ['package.json', 'tsconfig.json'] as const;
/** A clean build of this tree takes seconds; past this, something is wrong with the machine. */
const BUILD_DEADLINE_S = 300;

/** The package root above this module, from src (vitest) or dist (node). */
export function packageRoot(from = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'tsconfig.json'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`no package.json and tsconfig.json above ${from}`);
    dir = parent;
  }
  return dir;
}

export interface TempTree {
  readonly dir: string;
  /** Removes the copy; safe to call twice. */
  remove(): void;
}

/**
 * Where a copy comes from: a commit (the default, HEAD resolved once, so that every mutant of one
 * suite starts from the same code while others commit around it, and half-saved edits of people
 * working in the same checkout cannot break the build), or the working tree as it is on disk.
 */
export type TreeSource = { readonly kind: 'commit'; readonly commit: string } | { readonly kind: 'worktree' };

/** The commit `rev` names, or an error saying it names none. */
export async function resolveCommit(root: string, rev: string): Promise<string> {
  const found = await execa('git', ['rev-parse', '--verify', '--quiet', `${rev}^{commit}`], {
    cwd: root,
    reject: false,
  });
  if (found.exitCode !== 0) throw new Error(`--rev ${JSON.stringify(rev)} names no commit in ${root}`);
  return String(found.stdout).trim();
}

/**
 * Where a tree copy goes (mkdtemp adds six characters). Short, not the mutant's whole id: the
 * stress runs keep their temp files inside the copy, and an ipc owner's socket path there must
 * stay within the 107 bytes a Unix socket path may have.
 */
export function treeDirPrefix(label: string, base = tmpdir()): string {
  return join(base, `em-${label.slice(0, 8)}-`);
}

/** Copies the package to a new temp dir, removed also if this process is interrupted. */
export async function copyTree(root: string, label: string, source: TreeSource): Promise<TempTree> {
  const dir = mkdtempSync(treeDirPrefix(label));
  const remove = () => rmSync(dir, { recursive: true, force: true });
  // On Ctrl-C the children go first: a stress run still writing into the copy would race the rm.
  const forget = onTerminate(() => {
    killAllGroups();
    remove();
  });
  const tree = {
    dir,
    remove() {
      remove();
      forget();
    },
  };
  try {
    if (source.kind === 'worktree') {
      for (const name of COPIED_DIRS) cpSync(join(root, name), join(dir, name), { recursive: true });
      for (const name of COPIED_FILES) copyFileSync(join(root, name), join(dir, name));
    } else {
      const archive = join(dir, 'tree.tar');
      const paths = [...COPIED_DIRS, ...COPIED_FILES];
      await execa('git', ['archive', '--format=tar', `--output=${archive}`, source.commit, '--', ...paths], {
        cwd: root,
      });
      await execa('tar', ['-xf', archive, '-C', dir]);
      rmSync(archive);
    }
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  } catch (error) {
    tree.remove();
    throw error;
  }
  return tree;
}

/** Applies `mutant` inside the copy; throws MutantDoesNotApply when its snippet is not there once. */
export function mutateTree(tree: TempTree, mutant: Mutant): void {
  const path = join(tree.dir, mutant.file);
  writeFileSync(path, applyMutant(readFileSync(path, 'utf8'), mutant));
}

/** Builds the copy with the project's own compiler; undefined on success, else why not (one line). */
export async function buildTree(tree: TempTree, env: Record<string, string>): Promise<string | undefined> {
  const tsc = join(tree.dir, 'node_modules', '.bin', 'tsc');
  const build = await runInGroup(tsc, ['-p', 'tsconfig.json'], {
    cwd: tree.dir,
    deadlineS: BUILD_DEADLINE_S,
    env,
  });
  if (build.exitCode === 0 && !build.timedOut) return undefined;
  const first = `${build.stdout}\n${build.stderr}`
    .split('\n')
    .map((l) => l.trim())
    .find((l) => l !== '');
  return `tsc failed${build.timedOut ? ' (deadline)' : ''}: ${first ?? `exit ${build.exitCode}`}`;
}

/** The built stress CLI of a copy. */
export function stressCli(tree: TempTree): string {
  return join(tree.dir, 'dist', 'src', 'cli', 'embecode-stress.js');
}
