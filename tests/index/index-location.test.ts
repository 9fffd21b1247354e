import { existsSync } from 'node:fs';
import { mkdir, readdir, symlink, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { cacheDir, defaultDbPath, prepareDbLocation, resolveDbPath } from '../../src/index/index-location.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

afterEach(removeTempDirs);

describe('index location', () => {
  it('lives under $XDG_CACHE_HOME/embecode, or ~/.cache/embecode when it is unset or relative', () => {
    expect(cacheDir({ XDG_CACHE_HOME: '/var/cache/me' })).toBe('/var/cache/me/embecode');
    expect(cacheDir({})).toBe(join(homedir(), '.cache', 'embecode'));
    expect(cacheDir({ XDG_CACHE_HOME: '' })).toBe(join(homedir(), '.cache', 'embecode'));
    expect(cacheDir({ XDG_CACHE_HOME: 'relative/cache' })).toBe(join(homedir(), '.cache', 'embecode'));
  });

  it('is one index per project: basename plus a hash of the real path, the same through a symlink', async () => {
    const base = await makeTempDir();
    const env = { XDG_CACHE_HOME: join(base, 'cache') };
    await mkdir(join(base, 'one', 'my project'), { recursive: true });
    await mkdir(join(base, 'two', 'my project'), { recursive: true });
    await symlink(join(base, 'one', 'my project'), join(base, 'link'));
    const a = await defaultDbPath(join(base, 'one', 'my project'), env);
    const b = await defaultDbPath(join(base, 'two', 'my project'), env);
    const viaLink = await defaultDbPath(join(base, 'link'), env);
    expect(a).toMatch(new RegExp(`^${join(base, 'cache', 'embecode')}/my_project-[0-9a-f]{12}/index\\.db$`));
    expect(b).not.toBe(a);
    expect(viaLink).toBe(a);
    expect(existsSync(join(base, 'cache'))).toBe(false); // computing a path writes nothing
  });

  it('uses --db when given, made absolute, and refuses an empty one', async () => {
    expect(await resolveDbPath({ db: '/tmp/some/index.db' })).toBe('/tmp/some/index.db');
    expect(await resolveDbPath({ db: 'rel/index.db' })).toBe(join(process.cwd(), 'rel/index.db'));
    await expect(resolveDbPath({ db: ' ' })).rejects.toMatchObject({ kind: 'usage' });
    await expect(resolveDbPath({ dir: '/no/such/dir' })).rejects.toMatchObject({ kind: 'usage' });
  });

  it('creates the parent directories of a new index', async () => {
    const base = await makeTempDir();
    const path = join(base, 'a', 'b', 'index.db');
    await prepareDbLocation(path);
    expect(existsSync(join(base, 'a', 'b'))).toBe(true);
    expect(existsSync(path)).toBe(false);
  });

  it('fails in one line, creating nothing, when the parent is a file or the path a directory', async () => {
    const base = await makeTempDir();
    await writeFile(join(base, 'file'), 'x');
    await mkdir(join(base, 'dir.db'));
    for (const path of [
      join(base, 'file', 'sub', 'index.db'),
      join(base, 'file', 'index.db'),
      join(base, 'dir.db'),
    ]) {
      const error = await prepareDbLocation(path).catch((e: unknown) => e);
      expect(error, path).toBeInstanceOf(EmbecodeError);
      expect(['io', 'usage']).toContain((error as EmbecodeError).kind);
      expect((error as Error).message).toContain(path);
      expect((error as Error).message).not.toContain('\n');
    }
    expect((await readdir(base)).sort()).toEqual(['dir.db', 'file']);
  });
});
