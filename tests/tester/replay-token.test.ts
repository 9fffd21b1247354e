import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EmbecodeError } from '../../src/errors.js';
import { decodeReplayToken, encodeReplayToken, TOKEN_PREFIX } from '../../src/tester/replay-token.js';

const replayable = fc.record({
  strategy: fc.string(),
  runs: fc.integer({ min: 1, max: 1_000_000 }),
  seed: fc.integer({ min: -0x7fffffff, max: 0x7fffffff }),
  maxCommands: fc.integer({ min: 1, max: 10_000 }),
  path: fc.string(),
  replayPath: fc.string(),
});

const EXAMPLE = {
  strategy: 'readonly-direct',
  runs: 100,
  seed: 42,
  maxCommands: 12,
  path: '3:1:0',
  replayPath: 'CDA:F',
};

/** A token whose body is any JSON text, as an edited or forged token would be. */
function tokenWithBody(body: unknown): string {
  return TOKEN_PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** Decoding fails with a one-line usage error. */
function expectUsageError(token: string, message?: RegExp): void {
  let caught: unknown;
  try {
    decodeReplayToken(token);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EmbecodeError);
  const error = caught as EmbecodeError;
  expect(error.kind).toBe('usage');
  expect(error.message).not.toMatch(/[\r\n]/);
  expect(error.message.length).toBeLessThan(200);
  if (message !== undefined) expect(error.message).toMatch(message);
}

describe('replay tokens', () => {
  it("carry a swarm run's command mix and dropped kinds; a run without swarm carries no mix", () => {
    const mix = { OwnerWrite: 3, ReaderSearch: 1, ParallelBatch: 4, OwnerCheckpoint: 2, OwnerRelease: 1 };
    const swarmed = decodeReplayToken(encodeReplayToken({ ...EXAMPLE, mix, drop: ['RepeatSearch'] }));
    expect(swarmed).toMatchObject({ swarm: true, mix, drop: ['RepeatSearch'] });
    const plain = decodeReplayToken(encodeReplayToken({ ...EXAMPLE, swarm: false, mix }));
    expect(plain.swarm).toBe(false);
    expect(plain.mix).toBeUndefined();
    expect(plain.drop).toBeUndefined();
  });

  it('from before swarm existed (no mix field) decode as runs of the default generator (--no-swarm)', () => {
    // A token main 600dd6c printed for `run --strategy readonly-direct --seed 7 --runs 30
    // --max-commands 10` (before swarm), whole: its fields and nothing else.
    const old =
      'es1.eyJ2IjoxLCJzdHJhdGVneSI6InJlYWRvbmx5LWRpcmVjdCIsInNlZWQiOjcsInBhdGgiOiIyOjI6MToxOjE6MToxOjE6MToxOjE6MToxOjEiLCJyZXBsYXlQYXRoIjoiQUJEWjpLIiwibWF4Q29tbWFuZHMiOjEwfQ';
    expect(decodeReplayToken(old)).toEqual({
      strategy: 'readonly-direct',
      seed: 7,
      path: '2:2:1:1:1:1:1:1:1:1:1:1:1:1',
      replayPath: 'ABDZ:K',
      maxCommands: 10,
      swarm: false,
      runs: 1,
    });
  });

  it('refuse a command mix or drop list this version cannot honour, saying why in one line', () => {
    const body = { v: 1, ...EXAMPLE };
    expectUsageError(
      tokenWithBody({ ...body, mix: { OwnerWrite: 2, Teleport: 1 } }),
      /command mix has 'Teleport'=1.*newer version/,
    );
    expectUsageError(tokenWithBody({ ...body, mix: { OwnerWrite: 0 } }), /'OwnerWrite'=0/);
    expectUsageError(tokenWithBody({ ...body, mix: {} }), /no kinds/);
    expectUsageError(tokenWithBody({ ...body, mix: [1] }), /no kinds/);
    expectUsageError(tokenWithBody({ ...body, drop: ['Nope'] }), /dropped command kinds/);
  });

  it('round-trip the settings a replay needs, as one runs-once setting', () => {
    fc.assert(
      fc.property(replayable, (settings) => {
        const token = encodeReplayToken(settings);
        expect(token.startsWith(TOKEN_PREFIX)).toBe(true);
        expect(token).toMatch(/^es1\.[A-Za-z0-9_-]+$/);
        const { runs: _runs, ...rest } = settings;
        expect(decodeReplayToken(token)).toEqual({ ...rest, swarm: false, runs: 1 });
        expect(decodeReplayToken(`  ${token}\n`)).toEqual({ ...rest, swarm: false, runs: 1 });
      }),
    );
  });

  it('refuses every truncation of a token', () => {
    fc.assert(
      fc.property(replayable, fc.nat(), (settings, cut) => {
        const token = encodeReplayToken(settings);
        expectUsageError(token.slice(0, cut % token.length));
      }),
    );
    const token = encodeReplayToken(EXAMPLE);
    expectUsageError(token.slice(0, -3), /damaged.*copy the whole token/);
    expectUsageError(TOKEN_PREFIX, /damaged/);
  });

  it('refuses a token of another version', () => {
    const body = encodeReplayToken(EXAMPLE).slice(TOKEN_PREFIX.length);
    expectUsageError(`es2.${body}`, /version 'es2' is not supported.*es1\./);
    expectUsageError(`es.${body}`, /version 'es' is not supported/);
  });

  it('refuses strings that are not tokens', () => {
    expectUsageError('', /is not a replay token/);
    expectUsageError('hello', /'hello' is not a replay token \(they start with es1\.\)/);
    expectUsageError('/tmp/some/dir', /is not a replay token/);
    expectUsageError('line one\nline two');
    expectUsageError(`es${'x'.repeat(5000)}`, /version/);
    expectUsageError('es\n2.abc', /version/);
  });

  it('refuses a body with missing or wrongly typed fields', () => {
    const good = JSON.parse(
      Buffer.from(encodeReplayToken(EXAMPLE).slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'),
    ) as Record<string, unknown>;
    expect(decodeReplayToken(tokenWithBody(good))).toEqual({ ...EXAMPLE, swarm: false, runs: 1 });
    for (const key of Object.keys(good)) {
      const { [key]: _gone, ...missing } = good;
      expectUsageError(tokenWithBody(missing), /fields missing or wrong/);
    }
    for (const [key, value] of [
      ['v', 2],
      ['v', '1'],
      ['strategy', 7],
      ['seed', '42'],
      ['seed', 1.5],
      ['maxCommands', null],
      ['maxCommands', 0],
      ['maxCommands', 2.5],
      ['path', ['3', '1']],
      ['replayPath', {}],
    ] as const) {
      expectUsageError(tokenWithBody({ ...good, [key]: value }), /damaged/);
    }
    for (const body of [null, 1, 'es1', [], [good], true]) expectUsageError(tokenWithBody(body), /damaged/);
  });

  it('fails only with one-line usage errors on any string', () => {
    const candidates = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.string().map((s) => `es${s}`),
      fc.string().map((s) => TOKEN_PREFIX + s),
      fc.json().map((json) => TOKEN_PREFIX + Buffer.from(json).toString('base64url')),
      fc.jsonValue().map(tokenWithBody),
    );
    fc.assert(
      fc.property(candidates, (token) => {
        try {
          decodeReplayToken(token);
        } catch (error) {
          expect(error).toBeInstanceOf(EmbecodeError);
          expect((error as EmbecodeError).kind).toBe('usage');
          expect((error as Error).message).not.toMatch(/[\r\n]/);
        }
      }),
      { numRuns: 1000 },
    );
  });
});
