import { describe, expect, it } from 'vitest';
import { ParallelBatch } from '../../../src/tester/commands/parallel-batch.js';
import { initialModel } from '../../../src/tester/model.js';
import type { StressWorld } from '../../../src/tester/world.js';

interface Probe {
  readonly holdMs: number;
  readonly at: 'before-owner-ack' | 'after-owner-ack';
}

/**
 * A world whose owner acknowledges its checkpoint after `ownerMs`, and whose intruder is kept out
 * the first `refusals` times (what the batch does with those answers is the point here).
 */
function fakeWorld(refusals: number, ownerMs: number, probes: Probe[]): StressWorld {
  let ownerAcked = false;
  const ok = (op: string, detail?: Record<string, unknown>) => ({
    op,
    ok: true,
    ...(detail ? { detail } : {}),
  });
  return {
    strategy: {
      name: 'fake',
      outsiders: [{ target: 'index', resolve: () => '/x', verdict: () => 'either' }],
    },
    context: { dbPath: '/x', workDir: '/' },
    newBatch: () => 1,
    reviveIfDead: async () => undefined,
    owner: {
      simple: async () => {
        await new Promise((resolve) => setTimeout(resolve, ownerMs));
        ownerAcked = true;
        return ok('checkpoint');
      },
    },
    reader: () => ({ open: async () => ok('open'), search: async () => ok('search') }),
    intruder: {
      probe: async (
        _rule: unknown,
        _path: unknown,
        _access: unknown,
        _owner: unknown,
        _batch: unknown,
        holdMs = 0,
      ) => {
        probes.push({ holdMs, at: ownerAcked ? 'after-owner-ack' : 'before-owner-ack' });
        return ok('probe', { gotIn: probes.length > refusals });
      },
    },
    requireOk: (e: unknown) => e,
    check: async () => undefined,
  } as unknown as StressWorld;
}

const SEARCH = {
  reader: 0,
  spec: { mode: 'bm25' as const, query: { kind: 'absent' as const }, topK: 10, prefix: 0 },
};

function batch(retryMs: number): ParallelBatch {
  return new ParallelBatch({ op: 'checkpoint' }, [SEARCH], 0, 'READ_WRITE', null, {
    delayMs: 0,
    holdMs: 25,
    retryMs,
  });
}

describe('ParallelBatch with a waiting intruder', () => {
  it('tries again while kept out, stops once in, and asks it to hold what it got into', async () => {
    const probes: Probe[] = [];
    const model = initialModel(1);
    model.readersOpen[0] = true;
    await batch(2).run(model, fakeWorld(2, 500, probes));
    expect(probes).toEqual([
      { holdMs: 25, at: 'before-owner-ack' },
      { holdMs: 25, at: 'before-owner-ack' },
      { holdMs: 25, at: 'before-owner-ack' },
    ]);
  });

  it('gives up after one more try once the owner step is acknowledged', async () => {
    const probes: Probe[] = [];
    const model = initialModel(1);
    model.readersOpen[0] = true;
    await batch(5).run(model, fakeWorld(1000, 30, probes));
    expect(probes.length).toBeGreaterThan(1);
    expect(probes.at(-1)?.at).toBe('after-owner-ack');
    expect(probes.filter((p) => p.at === 'after-owner-ack').length).toBe(1);
  });

  it('tries once without a retry interval', async () => {
    const probes: Probe[] = [];
    const model = initialModel(1);
    model.readersOpen[0] = true;
    await batch(0).run(model, fakeWorld(1000, 30, probes));
    expect(probes).toHaveLength(1);
    expect(String(batch(4))).toBe(
      'parallel(owner.checkpoint() || reader-1 bm25 absent k=10 || intruder READ_WRITE retrying every 4 ms, holding 25 ms)',
    );
  });
});

describe('ParallelBatch with an intruder that starts late', () => {
  it('ends its start delay once the rest of the batch has settled, and then probes once', async () => {
    const probes: Probe[] = [];
    const model = initialModel(1);
    model.readersOpen[0] = true;
    // A delay no test would wait out: the probe can only come from the batch having settled.
    const late = new ParallelBatch({ op: 'checkpoint' }, [SEARCH], 0, 'READ_WRITE', null, {
      delayMs: 600_000,
      holdMs: 25,
      retryMs: 5,
    });
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error('the intruder waited out its 600 s delay although the rest of the batch had settled'),
          ),
        10_000,
      );
    });
    try {
      await Promise.race([late.run(model, fakeWorld(1000, 30, probes)), deadline]);
    } finally {
      clearTimeout(timer);
    }
    expect(probes).toEqual([{ holdMs: 25, at: 'after-owner-ack' }]);
  });
});

/** A world that lists, in order, what the owner and the reader were asked to do. */
function orderWorld(calls: string[]): StressWorld {
  const ok = (op: string) => ({ op, ok: true });
  return {
    strategy: { name: 'fake' },
    context: { dbPath: '/x', workDir: '/' },
    newBatch: () => 1,
    reviveIfDead: async () => undefined,
    owner: {
      simple: async (op: string) => {
        calls.push(`owner.${op}`);
        return ok(op);
      },
    },
    reader: () => ({
      open: async () => {
        calls.push('reader.open');
        return ok('open');
      },
      search: async () => {
        calls.push('reader.search');
        return ok('search');
      },
    }),
    requireOk: (e: unknown) => e,
    check: async () => undefined,
  } as unknown as StressWorld;
}

describe('ParallelBatch with a closed reader', () => {
  it('opens it at its search, after the owner step has started, so the open races it', async () => {
    const calls: string[] = [];
    const model = initialModel(1);
    await new ParallelBatch({ op: 'checkpoint' }, [{ ...SEARCH, delayMs: 20 }]).run(model, orderWorld(calls));
    expect(calls).toEqual(['owner.checkpoint', 'reader.open', 'reader.search']);
    expect(model.readersOpen[0]).toBe(true);
  });

  it('opens it before a release (an ipc reader would find nobody to connect to after it)', async () => {
    const calls: string[] = [];
    const model = initialModel(1, true);
    await new ParallelBatch({ op: 'release' }, [{ ...SEARCH, delayMs: 20 }]).run(model, orderWorld(calls));
    expect(calls).toEqual(['reader.open', 'owner.release', 'reader.search']);
  });
});
