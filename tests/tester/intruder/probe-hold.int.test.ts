import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Database } from '../../../src/index/database.js';
import { IntruderClient } from '../../../src/tester/intruder/intruder-client.js';
import type { ProbeResult } from '../../../src/tester/intruder/types.js';
import { trackChildren } from '../../support/child-cleanup.js';
import { makeTempDir } from '../../support/temp-dir.js';

const children = trackChildren();

async function startIntruder(): Promise<IntruderClient> {
  const intruder = await IntruderClient.start('none');
  children.add(intruder);
  return intruder;
}

/** A DuckDB file nobody holds: made and closed by this process. */
async function closedIndex(): Promise<string> {
  const path = join(await makeTempDir('embecode-probe-hold-'), 'index.db');
  const db = await Database.open(path, { mode: 'owner', dimensions: 8, embedder: 'test' });
  await db.close();
  return path;
}

describe('an intruder probe that holds what it got into', () => {
  it('keeps the file locked for holdMs: another process opening meanwhile meets its lock', async () => {
    const path = await closedIndex();
    const [holder, other] = await Promise.all([startIntruder(), startIntruder()]);
    // The second process probes until it meets the holder's lock; should it get in first and make
    // the holder the one refused, the pair tries again.
    const deadline = Date.now() + 30_000;
    let holderResult: ProbeResult | undefined;
    let refused: ProbeResult | undefined;
    while ((holderResult?.gotIn !== true || refused === undefined) && Date.now() < deadline) {
      refused = undefined;
      let settled = false;
      const held = holder.probe({ path, access: 'READ_WRITE', holdMs: 1000 }).finally(() => {
        settled = true;
      });
      while (refused === undefined && !settled) {
        const result = await other.probe({ path, access: 'READ_ONLY' });
        if (!result.gotIn) refused = result;
      }
      holderResult = await held;
    }
    expect(holderResult).toMatchObject({ gotIn: true });
    expect(holderResult?.gotIn === true && holderResult.did).toContain('held it 1000 ms');
    expect(refused, 'a probe from another process while the holder held the file').toMatchObject({
      gotIn: false,
      error: expect.stringMatching(/lock/i),
    });
    // Once the holder has closed, the file is free again.
    expect(await other.probe({ path, access: 'READ_WRITE' })).toMatchObject({ gotIn: true });
  });

  it('refuses a holdMs that is negative, fractional, over the bound or not a number, in one line', async () => {
    const path = await closedIndex();
    const intruder = await startIntruder();
    for (const bad of [-1, 1.5, 100_000, 'soon']) {
      await expect(intruder.probe({ path, access: 'READ_ONLY', holdMs: bad as number })).rejects.toThrow(
        /args\.holdMs must be an integer from 0 to 1000/,
      );
    }
  });
});
