import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { ErrorKind } from '../../src/error-kind.js';
import { createDefaultEmbedder } from '../../src/index/embedder.js';
import { prepareFile } from '../../src/index/prepare.js';
import { renderFile, spec } from '../../src/tester/content.js';
import { History, type NewStep, type StepEvent } from '../../src/tester/history.js';
import { ReferenceIndex } from '../../src/tester/oracle/reference-index.js';
import { serveChecker } from '../../src/tester/serve/checker.js';
import { ProjectTree } from '../../src/tester/serve/project.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

/**
 * The serve target's search rule, on hand-made histories: what a catch-up acknowledged must be
 * seen, what it acknowledged as deleted must not be, anything unacknowledged may go either way;
 * and a search or catch-up may fail only with a retryable error.
 */
afterEach(removeTempDirs);

const embedder = createDefaultEmbedder();
const PATH = 'src/alpha.ts';

async function setUp() {
  const dir = await makeTempDir('embecode-serve-checker-');
  const project = new ProjectTree(join(dir, 'project'), join(dir, 'scratch'));
  const history = new History();
  const checker = serveChecker(project, embedder);
  let clock = 0;
  const now = () => ++clock;
  const step = (s: Omit<NewStep, 'start' | 'end' | 'pid'> & { pid?: number }): StepEvent =>
    history.record({ pid: 1, ...s, start: now(), end: now() });
  const write = (token: string) => {
    project.write(PATH, renderFile(PATH, spec(1), token), token, now);
  };
  // The answer for a project holding PATH at `token` (or nothing): the reference index's own.
  const answer = async (token: string | undefined) => {
    if (token === undefined) return [];
    const file = await prepareFile(PATH, renderFile(PATH, spec(1), token), embedder);
    return (await ReferenceIndex.empty(embedder).withFile(file).search(token, { mode: 'bm25', topK: 10 }))
      .expected;
  };
  const search = async (token: string, seen: readonly string[]): Promise<StepEvent> => {
    const results = await answer(seen[0]);
    return step({
      actor: 'serve-1',
      op: 'search',
      args: { mode: 'bm25', query: token, topK: 10 },
      outcome: 'ok',
      results,
      seen,
    });
  };
  const catchUp = () => step({ actor: 'serve-1', op: 'catch-up', args: {}, outcome: 'ok' });
  const judge = (event: StepEvent) => checker.check(history.steps, event);
  return { project, write, search, catchUp, step, judge, now, history };
}

describe('serve checker', () => {
  it('an unacknowledged change may be seen or not; once a catch-up acknowledged it, it must be seen', async () => {
    const t = await setUp();
    t.write('zqbxa');
    expect(await t.judge(await t.search('zqbxa', []))).toBeUndefined();
    t.catchUp();
    const missed = await t.judge(await t.search('zqbxa', []));
    expect(missed).toMatchObject({ kind: 'results-differ' });
    expect(missed?.message).toContain(`${PATH} at least zqbxa`);
  });

  it('a deletion acknowledged before the search began is not seen', async () => {
    const t = await setUp();
    t.write('zqbxa');
    t.catchUp();
    t.project.delete(PATH, t.now);
    // Before a catch-up the old file may still be there...
    expect(await t.judge(await t.search('zqbxa', ['zqbxa']))).toBeUndefined();
    t.catchUp();
    // ...after one, it must be gone.
    const stale = await t.judge(await t.search('zqbxa', ['zqbxa']));
    expect(stale).toMatchObject({ kind: 'results-differ' });
    expect(stale?.message).toContain(`${PATH} at least deleted`);
  });

  it('a catch-up that started before the change acknowledges nothing of it', async () => {
    const t = await setUp();
    const early = t.history.record({
      actor: 'serve-1',
      op: 'catch-up',
      args: {},
      outcome: 'ok',
      pid: 1,
      start: t.now(),
      end: 1_000,
    });
    t.write('zqbxa');
    expect(early.start).toBeLessThan(t.project.current(PATH).start);
    const after = t.history.record({
      actor: 'serve-1',
      op: 'search',
      args: { mode: 'bm25', query: 'zqbxa', topK: 10 },
      outcome: 'ok',
      pid: 1,
      start: 1_001,
      end: 1_002,
      results: [],
      seen: [],
    });
    expect(await t.judge(after)).toBeUndefined();
  });

  it('a search or catch-up may be told to retry, but not fail otherwise or hang', async () => {
    const t = await setUp();
    const fail = (op: string, errorKind: ErrorKind) =>
      t.step({
        actor: 'serve-2',
        op,
        args: { mode: 'bm25', query: 'x', topK: 1 },
        outcome: 'fail',
        errorKind,
        error: 'e',
      });
    expect(await t.judge(fail('search', 'unavailable'))).toBeUndefined();
    expect(await t.judge(fail('catch-up', 'unavailable'))).toBeUndefined();
    expect(await t.judge(fail('search', 'internal'))).toMatchObject({ kind: 'serve-error' });
    expect(await t.judge(fail('catch-up', 'io'))).toMatchObject({ kind: 'serve-error' });
    expect(await t.judge(fail('search', 'hang'))).toMatchObject({ kind: 'hang' });
  });
});
