import { describe, expect, it } from 'vitest';
import { dispatch, type OpTable, opsOf } from '../../src/child-protocol/dispatch.js';
import { EmbecodeError } from '../../src/errors.js';

const table: OpTable<'echo' | 'fail'> = {
  echo: async (args) => args,
  fail: async () => {
    throw new EmbecodeError('io', 'disk full');
  },
};

describe('dispatch, the one op table both children answer through', () => {
  it("runs the op's handler with the request's args, {} when it sent none", async () => {
    expect(await dispatch(table, { id: 1, op: 'echo', args: { a: 1 } })).toMatchObject({
      id: 1,
      ok: true,
      result: { a: 1 },
    });
    expect(await dispatch(table, { id: 2, op: 'echo' })).toMatchObject({ id: 2, ok: true, result: {} });
  });

  it("turns a handler's failure into a reply with its kind and message", async () => {
    expect(await dispatch(table, { id: 3, op: 'fail' })).toMatchObject({
      id: 3,
      ok: false,
      kind: 'io',
      error: 'disk full',
    });
  });

  it('answers an op the table does not have, inherited names included, as a protocol error', async () => {
    for (const op of ['drop', 'toString', '__proto__', 'constructor']) {
      expect(await dispatch(table, { id: 4, op })).toMatchObject({ id: 4, ok: false, kind: 'protocol' });
    }
  });

  it('reads the accepted op names off the same table', () => {
    expect([...opsOf(table)].sort()).toEqual(['echo', 'fail']);
  });
});
