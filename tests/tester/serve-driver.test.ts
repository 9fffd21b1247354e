import { readdirSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { ServeDriver } from '../../src/tester/serve/driver.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const savedTmp = process.env.TMPDIR;
afterEach(async () => {
  if (savedTmp === undefined) delete process.env.TMPDIR;
  else process.env.TMPDIR = savedTmp;
  await removeTempDirs();
});

/**
 * Under a deep TMPDIR (the mutant suite nests one inside each tree copy) the serves of run 10 on
 * could not bind their sockets, and the check reported that as a counterexample of the unmutated
 * tree. It is a set-up error, said before any run.
 */
describe('ServeDriver', () => {
  it('refuses, in one usage line and leaving nothing, a TMPDIR too deep for the serve sockets', async () => {
    const deep = await makeTempDir(`embecode-deep-${'d'.repeat(40)}-`);
    process.env.TMPDIR = deep;
    let caught: unknown;
    try {
      new ServeDriver({ stepDeadlineMs: 1_000, takeoverBoundMs: 1_000 });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(EmbecodeError);
    expect((caught as EmbecodeError).kind).toBe('usage');
    expect((caught as Error).message).toMatch(
      new RegExp(
        `^the serve target's sockets would be up to \\d+ bytes long under ${deep}, over the 107-byte limit of Unix sockets; set TMPDIR to a shorter directory$`,
      ),
    );
    expect(readdirSync(deep)).toEqual([]);
  });

  it('takes a TMPDIR of ordinary depth', async () => {
    process.env.TMPDIR = await makeTempDir('embecode-shallow-');
    const driver = new ServeDriver({ stepDeadlineMs: 1_000, takeoverBoundMs: 1_000 });
    await driver.close();
  });
});
