import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OwnerClient } from '../../src/child-protocol/owner-client.js';
import { IntruderClient } from '../../src/tester/intruder/intruder-client.js';
import type { IntruderAccess, ProbeResult } from '../../src/tester/intruder/types.js';
import { trackChildren } from '../support/child-cleanup.js';
import { duckdbLockMessage } from '../support/lock-assertions.js';
import { makeTempDir } from '../support/temp-dir.js';

/**
 * While an owner holds the index, no other process may open it: not read-write (it would write
 * behind the owner's back) and not READ_ONLY (it would read pages the owner is rewriting). DuckDB
 * promises that through one fcntl lock per process, and any open/close of the file in the owner
 * process silently drops it (/work/shared/DUCKDB_FACTS.md). So after every step the owner takes,
 * a process that is not embecode (helpers/stress-intruder.ts) tries both, and must hear DuckDB's
 * "Conflicting lock" naming the owner.
 *
 * handoff is not here: its owner holds the lock only inside a write and lets go right after, so
 * between its steps an intruder getting in is the design, and catching it inside a write needs a
 * pause hook in src/strategies/handoff.ts that does not exist.
 */

const children = trackChildren();

const REFUSED = 'refused: Conflicting lock held by the owner';
const ACCESSES: readonly IntruderAccess[] = ['READ_WRITE', 'READ_ONLY'];

function content(token: string): string {
  return `// ${token}\nexport function handle_${token}(input: string): string {\n  return '${token}' + input;\n}\n`;
}

function describeProbe(result: ProbeResult, dbPath: string, ownerPid: number): string {
  if (result.gotIn) return `GOT IN: ${result.did.join('; ')}`;
  return duckdbLockMessage(dbPath, ownerPid, false).test(result.error)
    ? REFUSED
    : `refused otherwise: ${result.error}`;
}

async function startIntruder(label: string): Promise<IntruderClient> {
  const intruder = await IntruderClient.start(label);
  children.add(intruder);
  return intruder;
}

async function startBoth(strategy: string): Promise<{ owner: OwnerClient; intruder: IntruderClient }> {
  const owner = await OwnerClient.start(strategy);
  children.add(owner);
  return { owner, intruder: await startIntruder(strategy) };
}

describe('lock exclusivity: a process that is not embecode cannot open a held index', () => {
  it('the intruder never creates a file it probes', async () => {
    const dir = await makeTempDir('embecode-lock-');
    const intruder = await startIntruder('none');
    const missing = join(dir, 'nothing.db');
    for (const access of ACCESSES) {
      expect(await intruder.probe({ path: missing, access, prove: true })).toEqual({
        gotIn: false,
        error: 'missing',
      });
    }
    expect(existsSync(missing)).toBe(false);
    await intruder.stop();
  });

  for (const strategy of ['ipc', 'snapshot']) {
    it(`${strategy}: refused after every owner step, let in once the owner released`, async () => {
      const dir = await makeTempDir(`embecode-lock-${strategy}-`);
      const dbPath = join(dir, 'index.db');
      const { owner, intruder } = await startBoth(strategy);
      const steps: ReadonlyArray<readonly [string, Record<string, unknown>?]> = [
        ['open', { db: dbPath, dir }],
        ['write', { files: [{ path: 'src/a.ts', content: content('zqaxa') }] }],
        ['checkpoint'],
        ['write', { files: [{ path: 'src/b.ts', content: content('zqbxb') }] }],
        ['delete', { paths: ['src/a.ts'] }],
        ['checkpoint'],
        ['status'],
      ];
      const seen: string[] = [];
      const expected: string[] = [];
      for (const [op, args] of steps) {
        const reply = await owner.request(op, args);
        const said = reply.ok
          ? op === 'status'
            ? `holding ${(reply.result as { holding: boolean }).holding}`
            : 'ok'
          : `failed: ${reply.error}`;
        seen.push(`owner ${op}: ${said}`);
        expected.push(`owner ${op}: ${op === 'status' ? 'holding true' : 'ok'}`);
        for (const access of ACCESSES) {
          const result = await intruder.probe({ path: dbPath, access, prove: true });
          seen.push(`  after ${op}, intruder ${access}: ${describeProbe(result, dbPath, owner.pid)}`);
          expected.push(`  after ${op}, intruder ${access}: ${REFUSED}`);
        }
      }
      console.log(`${strategy}, owner ${owner.pid}, intruder ${intruder.pid}:\n${seen.join('\n')}`);
      expect(seen).toEqual(expected);

      // The control: the same probes do get in once nobody holds the file, so the refusals above
      // were the owner's lock and not a probe that cannot open anything.
      expect(await owner.request('release')).toMatchObject({ ok: true });
      for (const access of ACCESSES) {
        const result = await intruder.probe({ path: dbPath, access, prove: access === 'READ_WRITE' });
        expect(result, `after release, intruder ${access}`).toMatchObject({ gotIn: true });
      }
      await intruder.stop();
      await owner.stop();
    });
  }

  // handoff is not here: its owner holds the lock only inside a write, and nothing lets a test pause
  // it there; the stress tester's batches send intruders during writes instead (ParallelBatch).
});
