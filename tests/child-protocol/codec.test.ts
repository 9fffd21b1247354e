import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequest, salvageId } from '../../src/child-protocol/codec.js';
import { OWNER_OPS } from '../../src/child-protocol/owner-service.js';
import { EmbecodeError } from '../../src/errors.js';

const OPS = OWNER_OPS;
const OP_SET: ReadonlySet<string> = new Set(OWNER_OPS);

/** Decoding `line` fails with a one-line protocol error matching `message`. */
function expectProtocolError(line: string, message: RegExp): void {
  let caught: unknown;
  try {
    decodeRequest(line, OP_SET);
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(EmbecodeError);
  expect((caught as EmbecodeError).kind).toBe('protocol');
  expect((caught as Error).message).toMatch(message);
  expect((caught as Error).message).not.toMatch(/[\r\n]/);
}

describe('decodeRequest', () => {
  it('accepts every op, with and without args', () => {
    for (const [i, op] of OPS.entries()) {
      expect(decodeRequest(JSON.stringify({ id: i, op }), OP_SET)).toEqual({ id: i, op });
      const args = { db: '/tmp/x/index.duckdb', files: [{ path: 'a.ts', content: 'x' }] };
      expect(decodeRequest(JSON.stringify({ id: i, op, args }), OP_SET)).toEqual({ id: i, op, args });
    }
    expect(decodeRequest('  {"op":"status","id":-3,"extra":true}  ', OP_SET)).toEqual({
      id: -3,
      op: 'status',
    });
    expect(decodeRequest('{"id":1e3,"op":"status","args":{}}', OP_SET)).toEqual({
      id: 1000,
      op: 'status',
      args: {},
    });
  });

  it('round-trips any valid request', () => {
    fc.assert(
      fc.property(
        fc.integer(),
        fc.constantFrom(...OPS),
        fc.option(fc.dictionary(fc.string(), fc.jsonValue()), { nil: undefined }),
        (id, op, args) => {
          const request = { id, op, ...(args === undefined ? {} : { args }) };
          expect(decodeRequest(JSON.stringify(request), OP_SET)).toEqual(JSON.parse(JSON.stringify(request)));
        },
      ),
    );
  });

  it('rejects what is not JSON', () => {
    expectProtocolError('', /not JSON/);
    expectProtocolError('{"id":1,"op":"status"', /not JSON: \{"id":1,"op":"status"$/);
    expectProtocolError('hello', /request is not JSON: hello/);
    expectProtocolError('x'.repeat(500), /^request is not JSON: x{80}$/);
  });

  it('rejects JSON that is not an object', () => {
    for (const line of ['null', '1', '"open"', 'true']) expectProtocolError(line, /must be an object/);
    // An array is an object without an id.
    expectProtocolError('[1,"open"]', /integer id/);
  });

  it('rejects a missing or non-integer id', () => {
    for (const id of [undefined, null, '1', 1.5, true, [1], { n: 1 }]) {
      expectProtocolError(JSON.stringify({ id, op: 'status' }), /needs an integer id/);
    }
  });

  it('rejects an unknown or missing op, and says which', () => {
    expectProtocolError('{"id":1,"op":"drop"}', /unknown op 'drop'/);
    expectProtocolError('{"id":1,"op":"WRITE"}', /unknown op 'WRITE'/);
    expectProtocolError('{"id":1}', /unknown op/);
    for (const op of [null, 3, ['write'], { name: 'write' }, { toString: 1 }, 'a\nb', 'x'.repeat(300)]) {
      expectProtocolError(JSON.stringify({ id: 1, op }), /unknown op/);
    }
  });

  it('rejects args that are not an object', () => {
    for (const args of [null, [], [1, 2], 'a.ts', 3, false]) {
      expectProtocolError(JSON.stringify({ id: 1, op: 'write', args }), /args must be an object/);
    }
  });

  it('never throws anything but a protocol EmbecodeError, whatever the line', () => {
    const lines = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.json(),
      fc
        .record(
          {
            id: fc.oneof(fc.integer(), fc.jsonValue()),
            op: fc.oneof(fc.constantFrom(...OPS), fc.jsonValue()),
            args: fc.jsonValue(),
          },
          { requiredKeys: [] },
        )
        .map((value) => JSON.stringify(value)),
    );
    fc.assert(
      fc.property(lines, (line) => {
        try {
          const request = decodeRequest(line, OP_SET);
          expect(Number.isInteger(request.id)).toBe(true);
          expect(OPS).toContain(request.op);
        } catch (error) {
          expect(error).toBeInstanceOf(EmbecodeError);
          expect((error as EmbecodeError).kind).toBe('protocol');
          expect((error as Error).message).not.toMatch(/[\r\n]/);
        }
      }),
      { numRuns: 2000 },
    );
  });
});

describe('salvageId', () => {
  it('finds the id of a line that failed to decode', () => {
    expect(salvageId('{"id":7,"op":"drop"}')).toBe(7);
    expect(salvageId('{"op":"write","id" : -12, "args": ')).toBe(-12);
    expect(salvageId('{"id":42')).toBe(42);
  });

  it('gives -1 when there is no id to find', () => {
    expect(salvageId('')).toBe(-1);
    expect(salvageId('garbage')).toBe(-1);
    expect(salvageId('{"id":"7","op":"status"}')).toBe(-1);
    expect(salvageId('{"op":"status"}')).toBe(-1);
  });

  it('finds the id of any well-formed request', () => {
    fc.assert(
      fc.property(fc.integer(), fc.string(), (id, op) => {
        expect(salvageId(JSON.stringify({ id, op }))).toBe(id);
      }),
    );
  });
});
