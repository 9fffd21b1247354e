import { chmod, chown, mkdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { ensureStateDir, privateDirProblem, stateDirForIndex } from '../../src/election/state-dir.js';
import { EmbecodeError } from '../../src/errors.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

afterEach(async () => {
  await removeTempDirs();
});

const dirFacts = { isDirectory: true, isSymbolicLink: false, mode: 0o40700, uid: 1000 };

describe('privateDirProblem', () => {
  test('a 0700 directory of this user is fine', () => {
    expect(privateDirProblem('/s', dirFacts, 1000)).toBeUndefined();
    expect(privateDirProblem('/s', { ...dirFacts, mode: 0o40500 }, 1000)).toBeUndefined();
  });

  test.each([
    [{ mode: 0o40755 }, 'has mode 0755, but must be private (0700); run: chmod 700 /s'],
    [{ mode: 0o40770 }, 'has mode 0770'],
    [{ mode: 0o40701 }, 'has mode 0701'],
    [{ mode: 0o41777 }, 'has mode 0777'],
    [{ uid: 0 }, 'is owned by uid 0, not by this user (uid 1000)'],
    [{ isSymbolicLink: true }, 'is a symbolic link'],
    [{ isDirectory: false }, 'is not a directory'],
  ])('refuses %j in one line', (change, message) => {
    const problem = privateDirProblem('/s', { ...dirFacts, ...change }, 1000);
    expect(problem).toContain(message);
    expect(problem).not.toMatch(/[\r\n]/);
  });

  test('no uid to compare (no getuid): only the mode counts', () => {
    expect(privateDirProblem('/s', { ...dirFacts, uid: 5 }, undefined)).toBeUndefined();
  });
});

describe('stateDirForIndex', () => {
  test('is next to the index file, named after it', () => {
    expect(stateDirForIndex('/a/b/index.db')).toBe('/a/b/index.db.state');
  });
});

describe('ensureStateDir', () => {
  test('creates a missing directory (and parents) with mode 0700 whatever the umask', async () => {
    const base = await makeTempDir();
    const dir = join(base, 'x', 'y', 'state');
    const previous = process.umask(0);
    try {
      expect(await ensureStateDir(dir)).toBe(dir);
    } finally {
      process.umask(previous);
    }
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    // Idempotent.
    expect(await ensureStateDir(dir)).toBe(dir);
  });

  const refusal = async (dir: string): Promise<EmbecodeError> => {
    const error = await ensureStateDir(dir).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(EmbecodeError);
    expect((error as EmbecodeError).kind).toBe('io');
    expect((error as Error).message).not.toMatch(/[\r\n]/);
    return error as EmbecodeError;
  };

  test('refuses an existing directory open to others, and does not chmod it', async () => {
    const dir = join(await makeTempDir(), 'state');
    await mkdir(dir);
    await chmod(dir, 0o755);
    expect((await refusal(dir)).message).toContain('has mode 0755');
    expect((await stat(dir)).mode & 0o777).toBe(0o755);
  });

  test('refuses a symbolic link and a file', async () => {
    const base = await makeTempDir();
    await mkdir(join(base, 'real'), { mode: 0o700 });
    await symlink(join(base, 'real'), join(base, 'link'));
    expect((await refusal(join(base, 'link'))).message).toContain('symbolic link');
    await writeFile(join(base, 'file'), '');
    expect((await refusal(join(base, 'file'))).message).toContain('not a directory');
  });

  test.skipIf(process.getuid?.() !== 0)(
    'refuses a directory owned by another user (run as root)',
    async () => {
      const dir = join(await makeTempDir(), 'state');
      await mkdir(dir, { mode: 0o700 });
      await chown(dir, 65534, 65534);
      expect((await refusal(dir)).message).toContain('is owned by uid 65534, not by this user (uid 0)');
    },
  );
});
