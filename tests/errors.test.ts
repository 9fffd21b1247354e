import { describe, expect, it } from 'vitest';
import { answer } from '../src/child-protocol/messages.js';
import { EmbecodeError, errorKindOf, RemoteError } from '../src/errors.js';
import { classifyDuckDBError } from '../src/index/duckdb-errors.js';
import { IpcRemoteError } from '../src/ipc/errors.js';

/** DuckDB's own words for a lock another process holds (a plain Error: no code). */
const duckdbConflict = new Error(
  'IO Error: Could not set lock on file "/tmp/x/index.db": Conflicting lock is held in /usr/bin/node (PID 4242) by user me.',
);

describe('one name for a lock conflict, from DuckDB to the history', () => {
  it('is `locked` whether DuckDB said it, an EmbecodeError says it, or a child carried it over', async () => {
    expect(classifyDuckDBError(duckdbConflict)).toMatchObject({ kind: 'locked', holderPid: 4242 });
    expect(errorKindOf(duckdbConflict)).toBe('locked');
    expect(errorKindOf(new EmbecodeError('locked', 'index is locked'))).toBe('locked');
    // What a child-protocol reply carries, read back on the tester's side.
    const reply = await answer({ id: 1, op: 'write' }, async () => {
      throw duckdbConflict;
    });
    expect(reply).toMatchObject({ ok: false, kind: 'locked' });
    expect(errorKindOf(new RemoteError('held', reply.ok ? 'none' : reply.kind))).toBe('locked');
    // And over the IPC wire: the remote kind is the EmbecodeError kind, untranslated.
    expect(new IpcRemoteError('locked', 'held').kind).toBe('locked');
  });
});
