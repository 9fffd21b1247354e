import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterEach, describe, expect, test } from 'vitest';
import {
  newOwnerRecord,
  parseOwnerRecord,
  readOwnerRecord,
  removeOwnRecordSync,
  serializeOwnerRecord,
  writeOwnerRecord,
} from '../../src/election/owner-record.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

afterEach(async () => {
  await removeTempDirs();
});

describe('parseOwnerRecord', () => {
  test('round-trips a record', () => {
    const record = newOwnerRecord({ socket: '/run/x.sock', n: 3 });
    expect(parseOwnerRecord(serializeOwnerRecord(record))).toEqual({ ok: true, record });
  });

  test.each([
    ['', 'not JSON'],
    ['{"version":1', 'not JSON'],
    ['[1,2]', 'not a JSON object'],
    ['null', 'not a JSON object'],
    ['{"version":2,"pid":1,"hostname":"h","acquiredAt":"2024-01-01T00:00:00Z"}', 'version is 2, not 1'],
    ['{"version":1,"pid":0,"hostname":"h","acquiredAt":"2024-01-01T00:00:00Z"}', 'pid is 0'],
    ['{"version":1,"pid":-4,"hostname":"h","acquiredAt":"2024-01-01T00:00:00Z"}', 'pid is -4'],
    ['{"version":1,"pid":1.5,"hostname":"h","acquiredAt":"2024-01-01T00:00:00Z"}', 'pid is 1.5'],
    ['{"version":1,"pid":"12","hostname":"h","acquiredAt":"2024-01-01T00:00:00Z"}', 'pid is "12"'],
    ['{"version":1,"pid":12,"acquiredAt":"2024-01-01T00:00:00Z"}', 'hostname is not a string'],
    ['{"version":1,"pid":12,"hostname":"h","acquiredAt":"yesterday"}', 'acquiredAt is not a date'],
    ['{"version":1,"pid":12,"hostname":"h","acquiredAt":"2024-01-01T00:00:00Z","info":[1]}', 'info is not'],
    [`{"pad":"${'x'.repeat(70_000)}"}`, 'larger than'],
  ])('rejects %j with a one-line reason', (text, reason) => {
    const parsed = parseOwnerRecord(text);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) {
      expect(parsed.reason).toContain(reason);
      expect(parsed.reason).not.toMatch(/[\r\n]/);
      expect(parsed.reason.length).toBeLessThan(80);
    }
  });

  test('never throws, whatever the bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.json()), (text) => {
        const parsed = parseOwnerRecord(text);
        if (!parsed.ok) expect(parsed.reason).not.toMatch(/[\r\n]/);
      }),
      { numRuns: 500 },
    );
  });
});

describe('reading and writing owner.json', () => {
  test('writes atomically: mode 0600, no temp file left, the old record replaced whole', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'owner.json');
    await writeOwnerRecord(path, newOwnerRecord({ generation: 1 }));
    await writeOwnerRecord(path, newOwnerRecord({ generation: 2 }));
    expect(await readdir(dir)).toEqual(['owner.json']);
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    const read = await readOwnerRecord(path);
    expect(read).toMatchObject({ state: 'ok', record: { pid: process.pid, info: { generation: 2 } } });
  });

  test('missing, garbage and a directory in its place', async () => {
    const dir = await makeTempDir();
    expect(await readOwnerRecord(join(dir, 'none.json'))).toEqual({ state: 'missing' });
    await writeFile(join(dir, 'bad.json'), '\u0000\u0001garbage');
    expect(await readOwnerRecord(join(dir, 'bad.json'))).toEqual({ state: 'corrupt', reason: 'not JSON' });
    await mkdir(join(dir, 'dir.json'));
    expect(await readOwnerRecord(join(dir, 'dir.json'))).toEqual({
      state: 'corrupt',
      reason: 'unreadable (EISDIR)',
    });
  });

  test('removeOwnRecordSync removes only a record naming this process', async () => {
    const dir = await makeTempDir();
    const path = join(dir, 'owner.json');
    await writeOwnerRecord(path, { ...newOwnerRecord(), pid: process.pid + 1_000_000 });
    removeOwnRecordSync(path);
    expect(await readFile(path, 'utf8')).toContain(`${process.pid + 1_000_000}`);
    await writeOwnerRecord(path, newOwnerRecord());
    removeOwnRecordSync(path);
    expect(await readOwnerRecord(path)).toEqual({ state: 'missing' });
    removeOwnRecordSync(path); // Missing: nothing to do, no throw.
  });
});
