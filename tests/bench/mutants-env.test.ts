import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CATALOG } from '../../bench/mutants/catalog.js';
import { childEnv } from '../../bench/mutants/suite.js';
import { treeDirPrefix } from '../../bench/mutants/tree.js';
import { ipcSocketPath, MAX_SOCKET_PATH_BYTES } from '../../src/ipc/socket-dir.js';

describe('childEnv', () => {
  it('drops every STRESS_* knob, so runs use the default settings, and keeps the rest', () => {
    const env = childEnv({
      PATH: '/bin',
      STRESS_RUNS: '5',
      STRESS_SEED: '9',
      HOME: '/root',
      UNSET: undefined,
    });
    expect(env).toEqual({ PATH: '/bin', HOME: '/root' });
  });
});

describe('treeDirPrefix', () => {
  it('leaves room for the deepest socket a stress run inside the copy binds, for every mutant', () => {
    for (const { id } of CATALOG) {
      // What mkdtemp, the copy's TMPDIR, the run driver's base and a late run directory add.
      const runDir = join(
        `${treeDirPrefix(id, '/tmp')}XXXXXX`,
        'tmp',
        'embecode-stress-readonly-direct-XXXXXX',
        'run-99999',
      );
      expect(Buffer.byteLength(ipcSocketPath(runDir)), id).toBeLessThanOrEqual(MAX_SOCKET_PATH_BYTES);
    }
  });
});
