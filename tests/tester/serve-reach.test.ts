import { describe, expect, it } from 'vitest';
import type { StepEvent } from '../../src/tester/history.js';
import { formatReach, reachOf } from '../../src/tester/reach.js';
import { countFaults, NO_FAULTS } from '../../src/tester/report.js';
import { initialServeModel, tokenPool } from '../../src/tester/serve/commands.js';

function step(partial: Partial<StepEvent> & Pick<StepEvent, 'actor' | 'op' | 'start' | 'end'>): StepEvent {
  return { index: 0, args: {}, pid: 1, outcome: 'ok', ok: true, ...partial };
}

const row = { path: 'src/a.ts', startLine: 1, endLine: 2, score: 1 };

/**
 * A serve run's history: a catch-up, the owner SIGKILLed while a search is in flight, the
 * takeover after it, a search inside the takeover, a reader stopped by SIGTERM.
 */
const history: StepEvent[] = [
  step({ actor: 'serve-1', op: 'catch-up', start: 0, end: 5 }),
  step({
    actor: 'serve-1',
    op: 'catch-up',
    start: 6,
    end: 7,
    outcome: 'fail',
    ok: false,
    errorKind: 'unavailable',
  }),
  step({ actor: 'serve-2', op: 'search', start: 8, end: 30, args: { topK: 5 }, results: [row] }),
  step({ actor: 'nemesis', op: 'sigkill', start: 10, end: 12, args: { serve: 'serve-1', owner: true } }),
  step({ actor: 'nemesis', op: 'takeover', start: 12, end: 40 }),
  step({ actor: 'serve-2', op: 'search', start: 35, end: 36, args: { topK: 5 }, results: [] }),
  step({ actor: 'serve-2', op: 'search', start: 50, end: 51, args: { topK: 5 }, results: [row] }),
  step({ actor: 'nemesis', op: 'sigterm', start: 60, end: 61, args: { serve: 'serve-3', owner: false } }),
];

describe('the serve target in the reach table and the summary', () => {
  it('counts searches during a takeover, acknowledged catch-ups and kills in mid-request', () => {
    const reach = reachOf(history);
    expect(reach).toMatchObject({
      searches: 3,
      emptyResults: 1,
      searchesDuringTakeover: 2,
      catchUpsAcknowledged: 1,
      killsMidRequest: 1,
    });
    const table = formatReach(reach);
    expect(table).toMatch(/with results\s+2\n/);
    expect(table).toMatch(/searches during a takeover, any outcome\s+2\n/);
    expect(table).toMatch(/catch-ups acknowledged \(serve\)\s+1\n/);
    expect(table).toMatch(/kills mid-request \(serve\)\s+1\n/);
  });

  it('leaves the serve rows out of a strategy run', () => {
    const table = formatReach(reachOf([step({ actor: 'owner', op: 'write', start: 0, end: 1 })]));
    expect(table).not.toContain('(serve)');
  });

  it("counts a serve's SIGKILL and SIGTERM as owner or reader kills, an owner's during a catch-up as mid-write", () => {
    const mid = step({ actor: 'nemesis', op: 'sigterm', start: 2, end: 3, args: { owner: true } });
    expect(countFaults(NO_FAULTS, [...history, mid])).toEqual({
      ownerKills: 2,
      ownerKillsDuringWrite: 1,
      readerKills: 1,
    });
  });
});

describe('which tokens a serve search asks for', () => {
  it('picks acknowledged tokens still on disk, tokens gone from disk, or anything written', () => {
    const m = initialServeModel();
    m.written.push('zqold', 'zqkept', 'zqnew');
    m.files[0] = 'zqkept';
    m.files[1] = 'zqnew';
    m.acknowledged = ['zqold', 'zqkept'];
    expect(tokenPool(m, 'acknowledged')).toEqual(['zqkept']);
    expect(tokenPool(m, 'gone')).toEqual(['zqold']);
    expect(tokenPool(m, 'written')).toEqual(['zqold', 'zqkept', 'zqnew']);
  });

  it('falls back to everything written when a pool is empty', () => {
    const m = initialServeModel();
    m.written.push('zqa');
    m.files[0] = 'zqa';
    expect(tokenPool(m, 'acknowledged')).toEqual(['zqa']);
    expect(tokenPool(m, 'gone')).toEqual(['zqa']);
  });
});
