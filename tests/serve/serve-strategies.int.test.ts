import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { OwnerClient } from '../../src/child-protocol/owner-client.js';
import { procLocksAvailable, procWriteLockHolders } from '../../src/election/proc-locks.js';
import { IntruderClient } from '../../src/tester/intruder/intruder-client.js';
import { EMBECODE_CLI } from '../../src/tester/serve/serve-child.js';
import { trackChildren } from '../support/child-cleanup.js';
import { makeDemoProject } from '../support/demo-project.js';
import { makeTempDir } from '../support/temp-dir.js';

/**
 * `embecode serve --strategy`: only ipc serves. handoff is refused because it cannot keep serve's
 * promise (the election lock holder alone holds the index, at every instant, as seen from outside);
 * this file shows why with a real handoff owner and a process that is not embecode. snapshot is
 * refused because serve has no publish step for it yet (FINDINGS.md, "embecode serve and the
 * strategies").
 */
const children = trackChildren();

describe('embecode serve and the strategies', () => {
  it('refuses handoff and snapshot in one line each, exit 2, saying why, and starts nothing', async () => {
    const dir = await makeDemoProject('embecode-serve-strategy-');
    const db = join(await makeTempDir('embecode-serve-strategy-db-'), 'index.db');
    for (const [strategy, why] of [
      ['handoff', 'holds the index only while it writes'],
      ['snapshot', 'no snapshot publish step yet'],
    ] as const) {
      const r = await execa(
        process.execPath,
        [EMBECODE_CLI, 'serve', dir, '--db', db, '--strategy', strategy],
        {
          reject: false,
          timeout: 30_000,
        },
      );
      expect(r.exitCode, r.stderr).toBe(2);
      const lines = r.stderr.trim().split('\n');
      expect(lines).toEqual([expect.stringContaining(`does not support strategy '${strategy}': `)]);
      expect(lines[0]).toContain(why);
      expect(lines[0]).toContain("use 'ipc'");
    }
    expect(existsSync(db)).toBe(false);
    expect(existsSync(`${db}.state`)).toBe(false);
  });

  it('why not handoff: between two writes its owner holds no lock on the index, and an outsider writes into it', async () => {
    const dir = await makeTempDir('embecode-serve-handoff-');
    const dbPath = join(dir, 'index.db');
    const owner = await OwnerClient.start('handoff');
    children.add(owner);
    const intruder = await IntruderClient.start('handoff');
    children.add(intruder);
    expect(await owner.request('open', { db: dbPath, dir })).toMatchObject({ ok: true });
    const file = { path: 'src/a.ts', content: 'export function zqhandoffa(): number {\n  return 1;\n}\n' };
    expect(await owner.request('write', { files: [file] })).toMatchObject({ ok: true });
    // Right after an acknowledged write the kernel says nobody holds the index's write lock, and a
    // process that is not embecode opens it read-write and writes into it...
    if (procLocksAvailable()) expect(await procWriteLockHolders(dbPath)).toEqual([]);
    const probe = await intruder.probe({ path: dbPath, access: 'READ_WRITE', prove: true });
    expect(probe).toMatchObject({ gotIn: true });
    expect(probe.gotIn && probe.did).toEqual(expect.arrayContaining(['closed']));
    // ...while the owner still owns the index, the role a serve owner would keep all along.
    expect(await owner.request('status')).toMatchObject({ ok: true, result: { holding: true } });
    await intruder.stop();
    await owner.stop();
  });
});
