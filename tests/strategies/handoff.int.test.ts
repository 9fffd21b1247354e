import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import { OwnerClient } from '../../src/child-protocol/owner-client.js';
import { EmbecodeError } from '../../src/errors.js';
import { Database } from '../../src/index/database.js';
import { createDefaultEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import { liveChildCount } from '../../src/process/children.js';
import {
  createHandoff,
  HANDOFF_LIMITS,
  HandoffOwner,
  HandoffReader,
  handoffDir,
  handoffStats,
  readOwnerStats,
  resetHandoffStats,
  WRITE_INTENT,
} from '../../src/strategies/handoff.js';
import type { StrategyContext } from '../../src/strategies/strategy.js';
import { runSequence } from '../../src/tester/harness.js';
import { fileContent, tokensIn } from '../../src/tester/tokens.js';
import { probeOpen, startOwner, stopAllOwners } from '../support/owner.js';
import { strategyConformance } from '../support/strategy-conformance.js';
import {
  acquire,
  batch,
  checkpoint,
  close,
  del,
  open,
  release,
  search,
  searches,
  write,
} from '../support/stress-steps.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

const embedder = createDefaultEmbedder();
/** Short bounds, to see a timeout quickly. */
const SHORT = { ...HANDOFF_LIMITS, lockBoundMs: 300, ownerYieldMs: 50 };

beforeEach(resetHandoffStats);
afterEach(async () => {
  await stopAllOwners();
  await removeTempDirs();
});
afterAll(() => {
  expect(liveChildCount()).toBe(0);
});

async function context(): Promise<StrategyContext> {
  const dir = await makeTempDir('embecode-handoff-');
  return { dbPath: join(dir, 'index.db'), workDir: dir, embedder };
}

async function seenBy(reader: HandoffReader, token: string): Promise<string[]> {
  const results = await reader.search(token, { mode: 'bm25', topK: 10 });
  return [...new Set(results.flatMap((r) => tokensIn(r.preview)))];
}

describe('handoff: regression traces', () => {
  // What the strategy rests on: once a reader's Database is closed, another process can write.
  it('Database.close() of a reader releases the OS lock at once', async () => {
    const ctx = await context();
    const owner = new HandoffOwner(ctx);
    await owner.acquire();
    const db = await Database.open(ctx.dbPath, { mode: 'reader' });
    await db.close();
    const probe = await probeOpen(ctx.dbPath);
    expect(probe.opened, probe.opened ? '' : probe.exit.stderr).toBe(true);
    await owner.close();
  });

  // Found by `embecode-stress run --strategy handoff --seed 1`: the owner could never open the
  // index after the reader had searched, because Database.close() of a reader left one of its two
  // connections open, and DuckDB keeps the OS lock while any connection lives (until GC).
  it('owner writes after the reader searched (shrunk: open, search || write)', async () => {
    const history = await runSequence('handoff', [open(), batch([{ mode: 'bm25', pick: 0 }], 0, 'a')]);
    expect(history.every((e) => e.ok)).toBe(true);
  });

  it('owner writes after the reader searched (sequential form)', async () => {
    // Searches wait for a first write now, so the reader's first search comes after one.
    const history = await runSequence('handoff', [
      write(1, 'a', 1),
      open(),
      search('bm25', 0),
      write(0, 'b', 1),
      search('bm25', 0),
    ]);
    expect(searches(history).map((s) => s.seen)).toEqual([['zqaxa'], ['zqbxb']]);
    expect(history.every((e) => e.ok)).toBe(true);
  });
});

describe('handoff: hand-picked sequences (owner child, reader here)', () => {
  it('a search sees each acknowledged write, replace and delete', async () => {
    const history = await runSequence('handoff', [
      write(0, 'a', 1),
      open(),
      search('bm25', 0),
      write(0, 'b', 3),
      search('hybrid', 0),
      checkpoint(),
      del(0),
      search('bm25', 0),
      close(),
    ]);
    expect(searches(history).map((s) => s.seen)).toEqual([['zqaxa'], ['zqbxb'], []]);
  });

  it('the owner re-acquires while the reader is open, and readers search while it is released', async () => {
    const history = await runSequence('handoff', [
      write(1, 'a', 1),
      open(),
      release(),
      search('bm25', 0),
      acquire(),
      write(2, 'b', 1),
      search('vector', 0),
      search('bm25', 1),
    ]);
    expect(searches(history).map((s) => s.seen)).toEqual([['zqaxa'], ['zqbxb', 'zqaxa'], ['zqaxa']]);
    expect(history.every((e) => e.ok)).toBe(true);
  });
});

strategyConformance('handoff', { seed: 20261127 });

describe('handoff: contention between two real processes', () => {
  it('owner writing back-to-back and a reader searching without pause both finish within the bound', async () => {
    const dir = await makeTempDir('embecode-handoff-contention-');
    const dbPath = join(dir, 'index.db');
    const owner = await OwnerClient.start('handoff');
    try {
      expect((await owner.request('open', { db: dbPath, dir })).ok).toBe(true);
      const reader = new HandoffReader({ dbPath, workDir: dir, embedder });
      await reader.open();
      const acknowledged: { token: string; at: number }[] = [];
      let writing = true;
      const misses: string[] = [];
      let searched = 0;
      // Two search streams that never pause, checking the contract as they go.
      const stream = async () => {
        while (writing) {
          const started = performance.now();
          const before = acknowledged.filter((w) => w.at < started).at(-1);
          const seen = await seenBy(reader, before?.token ?? 'zqnothing');
          if (before !== undefined && !seen.includes(before.token)) misses.push(before.token);
          searched++;
        }
      };
      const streams = [stream(), stream()];
      const writes = 25;
      for (let i = 0; i < writes; i++) {
        const token = `zqcontx${String.fromCharCode(97 + (i % 26))}${String.fromCharCode(97 + Math.floor(i / 26))}`;
        // Each write goes to its own file, so an acknowledged token stays visible.
        const path = `f${i}.ts`;
        const reply = await owner.request('write', {
          files: [{ path, content: fileContent(path, token, 0) }],
        });
        expect(reply.ok, JSON.stringify(reply)).toBe(true);
        acknowledged.push({ token, at: performance.now() });
      }
      writing = false;
      await Promise.all(streams);
      await reader.close();

      const ownerStats = [...readOwnerStats(dir).values()][0];
      const readerStats = handoffStats().reader;
      expect(misses).toEqual([]);
      expect(searched).toBeGreaterThan(writes);
      expect(ownerStats?.operations).toBe(writes + 1); // + acquire
      expect(ownerStats?.timeouts).toBe(0);
      expect(readerStats.timeouts).toBe(0);
      expect(ownerStats?.worstWaitMs).toBeLessThan(HANDOFF_LIMITS.lockBoundMs);
      expect(readerStats.worstWaitMs).toBeLessThan(HANDOFF_LIMITS.lockBoundMs);
      // The two really met: readers deferred to the writer, and closed idle handles for it.
      expect(readerStats.yields + readerStats.conflicts).toBeGreaterThan(0);
      expect(readerStats.closedForWriter).toBeGreaterThan(0);
      console.log(
        `handoff contention: ${writes} writes, ${searched} searches; owner worst wait ${ownerStats?.worstWaitMs.toFixed(1)} ms (${ownerStats?.conflicts} conflicts, ${ownerStats?.yields} yields); reader worst wait ${readerStats.worstWaitMs.toFixed(1)} ms (${readerStats.conflicts} conflicts, ${readerStats.yields} yields, ${readerStats.opens} opens)`,
      );
      expect(existsSync(join(handoffDir(dir), WRITE_INTENT))).toBe(false);
    } finally {
      await owner.stop();
    }
  });

  it('a reader facing an owner that never lets go fails at the bound, naming the file and the owner', async () => {
    const dir = await makeTempDir('embecode-handoff-stuck-');
    const dbPath = join(dir, 'index.db');
    // The plain holding owner keeps the file read-write, which is what a hung handoff owner does.
    const holder = await OwnerClient.start('readonly-direct');
    try {
      expect((await holder.request('open', { db: dbPath, dir })).ok).toBe(true);
      const reader = createHandoff(SHORT).createReader({ dbPath, workDir: dir, embedder });
      const started = performance.now();
      const error = await reader.open().catch((e: unknown) => e);
      const waited = performance.now() - started;
      expect(error).toBeInstanceOf(EmbecodeError);
      expect((error as EmbecodeError).kind).toBe('locked');
      expect((error as Error).message).toContain(dbPath);
      expect((error as Error).message).toContain(`process ${holder.pid}`);
      expect((error as Error).message).toContain('within 300 ms');
      expect(waited).toBeGreaterThanOrEqual(300);
      expect(waited).toBeLessThan(3000);
      expect(handoffStats().reader.timeouts).toBe(1);
    } finally {
      await holder.stop();
    }
  });

  it('an owner facing a reader that never lets go fails at the bound, naming the file and the reader', async () => {
    const ctx = await context();
    const owner = new HandoffOwner(ctx, SHORT);
    await owner.acquire();
    const reader = await startOwner(ctx.dbPath, ['--mode', 'reader']);
    const prepared = await prepareFile('a.ts', fileContent('a.ts', 'zqstuckx', 0), embedder);
    const started = performance.now();
    const error = await owner.write([prepared]).catch((e: unknown) => e);
    const waited = performance.now() - started;
    expect((error as EmbecodeError).kind).toBe('locked');
    expect((error as Error).message).toContain(ctx.dbPath);
    expect((error as Error).message).toContain(`process ${reader.pid}`);
    expect(waited).toBeLessThan(3000);
    expect(handoffStats().owner.timeouts).toBe(1);
    // The announcement is withdrawn, and once the reader is gone the owner writes.
    expect(existsSync(join(handoffDir(ctx.workDir), WRITE_INTENT))).toBe(false);
    await reader.stop();
    await owner.write([prepared]);
    await owner.close();
  });
});

describe('handoff: owner and reader in one process', () => {
  it('the owner waits for a search in flight in its own process (DuckDB would not stop it)', async () => {
    const ctx = await context();
    const owner = new HandoffOwner(ctx);
    await owner.acquire();
    await owner.write([await prepareFile('a.ts', fileContent('a.ts', 'zqonex', 3), embedder)]);
    const reader = new HandoffReader(ctx);
    await reader.open();
    const search = reader.search('zqonex', { mode: 'hybrid', topK: 10 });
    const write = owner.write([await prepareFile('b.ts', fileContent('b.ts', 'zqtwox', 0), embedder)]);
    await Promise.all([search, write]);
    expect(await seenBy(reader, 'zqtwox')).toEqual(['zqtwox']);
    expect(await owner.stats()).toMatchObject({ files: 2 });
    await reader.close();
    await owner.close();
  });
});
