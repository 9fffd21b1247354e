import { chmod, cp, mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { assertDirectory, isBinary, type SkipReason, walkProject } from '../../src/index/walker.js';
import { packageRoot } from '../../src/process/children.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

afterEach(removeTempDirs);

async function write(root: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [path, content] of Object.entries(files)) {
    const file = join(root, path);
    await mkdir(dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

async function walk(root: string, options: Parameters<typeof walkProject>[1] = {}) {
  const paths: string[] = [];
  const skipped: { path: string; reason: SkipReason }[] = [];
  const warnings: string[] = [];
  for await (const file of walkProject(root, {
    ...options,
    onSkip: (path, reason) => skipped.push({ path, reason }),
    onWarning: (message) => warnings.push(message),
  })) {
    paths.push(file.path);
  }
  return { paths, skipped, warnings };
}

/**
 * Runs the walk as another user (when we are root) over a file that user cannot read, loading
 * the walker from `checkout` (a package root with dist/src and node_modules/ignore).
 */
async function expectUnreadableSkipped(checkout: string): Promise<void> {
  const root = await makeTempDir();
  await write(root, { 'locked.ts': 'x', 'open.ts': 'y' });
  await chmod(join(root, 'locked.ts'), 0o000);
  // Root reads anything, so the walk runs in a child as an unprivileged user when we are root.
  // That user may not be able to reach this checkout (a clone in a 0700 directory), so the child
  // loads a copy of the compiled code and of its one package from a directory anyone can read.
  await chmod(root, 0o755);
  const code = await makeTempDir();
  await cp(join(checkout, 'dist', 'src'), join(code, 'src'), { recursive: true });
  await cp(join(checkout, 'node_modules', 'ignore'), join(code, 'node_modules', 'ignore'), {
    recursive: true,
  });
  await chmod(code, 0o755);
  const walker = pathToFileURL(join(code, 'src', 'index', 'walker.js')).href;
  const script = `
      const { walkProject } = await import(${JSON.stringify(walker)});
      const paths = [], skipped = [];
      for await (const f of walkProject(process.argv[1], { onSkip: (path, reason) => skipped.push({ path, reason }) })) paths.push(f.path);
      console.log(JSON.stringify({ paths, skipped }));`;
  const asRoot = process.getuid?.() === 0;
  const result = await execa(process.execPath, ['--input-type=module', '-e', script, root], {
    ...(asRoot ? { uid: 65534, gid: 65534 } : {}),
  });
  const { paths, skipped } = JSON.parse(result.stdout) as { paths: string[]; skipped: unknown[] };
  expect(paths).toEqual(['open.ts']);
  expect(skipped).toEqual([{ path: 'locked.ts', reason: 'unreadable' }]);
}

describe('walkProject', () => {
  it("yields project-relative forward-slash paths with content, each directory's files (sorted) before its subdirectories", async () => {
    const root = await makeTempDir();
    await write(root, { 'b.ts': 'b', 'a/z.py': 'z', 'a/b/c.go': 'package c', 'A.md': '# A' });
    const files: { path: string; content: string; size: number }[] = [];
    for await (const file of walkProject(root)) files.push(file);
    expect(files.map((f) => f.path)).toEqual(['A.md', 'b.ts', 'a/z.py', 'a/b/c.go']);
    expect(files.find((f) => f.path === 'a/b/c.go')).toMatchObject({ content: 'package c', size: 9 });
  });

  it('always skips .git, node_modules, dist and the like', async () => {
    const root = await makeTempDir();
    await write(root, {
      'src/main.ts': 'main',
      '.git/config': '[core]',
      'node_modules/pkg/index.js': 'x',
      'dist/main.js': 'x',
      'pkg/node_modules/dep/a.js': 'x',
      '__pycache__/m.pyc': 'x',
      '.venv/lib/site.py': 'x',
    });
    expect((await walk(root)).paths).toEqual(['src/main.ts']);
  });

  it('honours the root .gitignore, nested .gitignore files, negation and .git/info/exclude', async () => {
    const root = await makeTempDir();
    await write(root, {
      '.gitignore': '*.log\nbuild/\n!keep.log\n',
      '.git/info/exclude': 'secret.txt\n',
      'app.log': 'x',
      'keep.log': 'kept',
      'secret.txt': 'x',
      'build/out.js': 'x',
      'src/build.ts': 'a file named build is not the build/ directory',
      'src/.gitignore': 'generated/\n/local.ts\n',
      'src/generated/types.ts': 'x',
      'src/local.ts': 'x',
      'src/lib/local.ts': 'not anchored to src/lib, so kept',
      'src/main.ts': 'main',
      'other/generated/types.ts': 'the nested rule does not reach other/',
    });
    expect((await walk(root)).paths).toEqual([
      '.gitignore',
      'keep.log',
      'other/generated/types.ts',
      'src/.gitignore',
      'src/build.ts',
      'src/main.ts',
      'src/lib/local.ts',
    ]);
  });

  it('skips binary, oversized and undecodable files with a reason, and keeps going', async () => {
    const root = await makeTempDir();
    await write(root, {
      'image.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47, 0x00, 0x01]),
      'big.txt': 'x'.repeat(2000),
      // Not UTF-8, and an ESC byte: not Latin-1 text either.
      'escaped.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x1b, 0x5b]),
      'utf16-no-bom.txt': new Uint8Array([0x68, 0x00, 0x69, 0x00]),
      'ok.ts': 'export const ok = 1;',
      'utf8.md': 'café ✓',
    });
    const { paths, skipped } = await walk(root, { maxFileBytes: 1000 });
    expect(paths).toEqual(['ok.ts', 'utf8.md']);
    expect(skipped).toEqual([
      { path: 'big.txt', reason: 'too-large' },
      { path: 'escaped.txt', reason: 'not-utf8' },
      { path: 'image.png', reason: 'binary' },
      { path: 'utf16-no-bom.txt', reason: 'binary' },
    ]);
  });

  it('decodes UTF-16 with a byte-order mark, and Latin-1 text that is not UTF-8', async () => {
    const root = await makeTempDir();
    const text = 'def café():\n    return "naïve"\n';
    const le = Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from(text, 'utf16le')]);
    const be = Buffer.from(le);
    be.swap16();
    await write(root, {
      'latin1.py': Buffer.from(text, 'latin1'),
      'utf16be.py': be,
      'utf16le.py': le,
      'utf8-bom.py': Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(text, 'utf8')]),
    });
    const files = [];
    for await (const file of walkProject(root)) files.push(file);
    expect(files.map((f) => [f.path, f.content])).toEqual([
      ['latin1.py', text],
      ['utf16be.py', text],
      ['utf16le.py', text],
      ['utf8-bom.py', text],
    ]);
  });

  // A FIFO open waits for a writer, and the walk's open is synchronous: before the fix it froze the
  // whole process (both cases below never returned). The walk runs in a child with a deadline, so
  // that a freeze fails this test instead of freezing the test runner with it.
  it('never waits on a FIFO: one swapped in for a file after the listing, or at .git/info/exclude', async () => {
    const root = await makeTempDir();
    const files: Record<string, string> = {};
    for (let i = 0; i < 40; i++) files[`f${String(i).padStart(2, '0')}.ts`] = `export const f${i} = ${i};`;
    await write(root, files);
    await mkdir(join(root, '.git', 'info'), { recursive: true });
    await execa('mkfifo', [join(root, '.git', 'info', 'exclude')]);
    const walker = pathToFileURL(join(packageRoot(), 'dist', 'src', 'index', 'walker.js')).href;
    const script = `
      const { walkProject } = await import(${JSON.stringify(walker)});
      const { rmSync } = await import('node:fs');
      const { execFileSync } = await import('node:child_process');
      const [root] = process.argv.slice(1);
      const paths = [], skipped = [], warnings = [];
      const onSkip = (path, reason, detail) => skipped.push({ path, reason, detail });
      for await (const f of walkProject(root, { onSkip, onWarning: (w) => warnings.push(w) })) {
        // The directory is listed and its files are read one by one: f39.ts is listed, not yet read.
        if (paths.length === 0) { rmSync(root + '/f39.ts'); execFileSync('mkfifo', [root + '/f39.ts']); }
        paths.push(f.path);
      }
      console.log(JSON.stringify({ paths, skipped, warnings }));`;
    const result = await execa(process.execPath, ['--input-type=module', '-e', script, root], {
      timeout: 20_000,
      reject: false,
    });
    expect(result.timedOut, 'the walk did not finish within 20 s: it waits on a FIFO').toBe(false);
    const { paths, skipped, warnings } = JSON.parse(result.stdout) as {
      paths: string[];
      skipped: unknown[];
      warnings: string[];
    };
    expect(paths).toHaveLength(39);
    expect(skipped).toEqual([
      { path: 'f39.ts', reason: 'unreadable', detail: 'not a regular file (a FIFO)' },
    ]);
    expect(warnings).toEqual([
      'cannot read ignore rules from .git/info/exclude: not a regular file (a FIFO); walking without them',
    ]);
  });

  it('reports files and directories that vanish or cannot be read, and keeps going', async () => {
    const root = await makeTempDir();
    const files: Record<string, string> = { 'zdir/inner.ts': 'x' };
    for (let i = 0; i < 40; i++) files[`f${String(i).padStart(2, '0')}.ts`] = `export const f${i} = ${i};`;
    await write(root, files);
    const paths: string[] = [];
    const skipped: { path: string; reason: SkipReason }[] = [];
    const warnings: string[] = [];
    for await (const file of walkProject(root, {
      onSkip: (path, reason) => skipped.push({ path, reason }),
      onWarning: (message) => warnings.push(message),
    })) {
      // Files are read a window at a time, directories after the files: both are still ahead.
      if (paths.length === 0) await rm(join(root, 'f39.ts'));
      if (paths.length === 0) await rm(join(root, 'zdir'), { recursive: true });
      paths.push(file.path);
    }
    expect(paths).toHaveLength(39);
    expect(skipped).toEqual([{ path: 'f39.ts', reason: 'unreadable' }]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain('zdir');
  });

  it('skips files without read permission', async () => {
    await expectUnreadableSkipped(packageRoot());
  });

  // A fresh clone in a private directory (mktemp -d is 0700) with a space in its path: the case
  // above must pass there too, where another user cannot reach the checkout's own dist/.
  it('skips files without read permission when the checkout is in a private directory', async () => {
    const privateDir = await makeTempDir('embecode-private-');
    await chmod(privateDir, 0o700);
    const checkout = join(privateDir, 'my projects', 'embecode');
    await mkdir(checkout, { recursive: true });
    await cp(join(packageRoot(), 'dist', 'src'), join(checkout, 'dist', 'src'), { recursive: true });
    await cp(join(packageRoot(), 'node_modules', 'ignore'), join(checkout, 'node_modules', 'ignore'), {
      recursive: true,
    });
    await expectUnreadableSkipped(checkout);
  });
  it('does not follow symbolic links', async () => {
    const root = await makeTempDir();
    const outside = await makeTempDir();
    await write(outside, { 'secret.ts': 'outside the project' });
    await write(root, { 'real.ts': 'x' });
    await symlink(outside, join(root, 'linked-dir'));
    await symlink(join(outside, 'secret.ts'), join(root, 'linked.ts'));
    await symlink(root, join(root, 'loop'));
    expect((await walk(root)).paths).toEqual(['real.ts']);
  });

  it('leaves out excluded paths (the index file inside the project)', async () => {
    const root = await makeTempDir();
    await write(root, { 'a.ts': 'a', 'index.db.wal': 'wal text', 'sub/x.ts': 'x' });
    expect((await walk(root, { exclude: ['index.db.wal', 'sub/x.ts'] })).paths).toEqual(['a.ts']);
  });

  it('fails with a one-line usage error for a missing directory or a file', async () => {
    const root = await makeTempDir();
    await write(root, { 'file.txt': 'x' });
    for (const target of [join(root, 'missing'), join(root, 'file.txt')]) {
      const error = await assertDirectory(target).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(EmbecodeError);
      expect(error).toMatchObject({ kind: 'usage' });
      expect((error as Error).message).toContain(target);
      expect((error as Error).message).not.toContain('\n');
    }
    await expect(walk(join(root, 'missing'))).rejects.toMatchObject({ kind: 'usage' });
  });
});

describe('isBinary', () => {
  it('looks for a NUL byte in the first 8000 bytes only', () => {
    expect(isBinary(new Uint8Array([1, 2, 0, 3]))).toBe(true);
    expect(isBinary(new TextEncoder().encode('plain text'))).toBe(false);
    const late = new Uint8Array(9000).fill(0x61);
    late[8500] = 0;
    expect(isBinary(late)).toBe(false);
  });
});
