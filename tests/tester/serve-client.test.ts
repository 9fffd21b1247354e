import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IpcServer } from '../../src/ipc/server.js';
import { Recorder } from '../../src/tester/clients/recorder.js';
import { History } from '../../src/tester/history.js';
import { ServeActor } from '../../src/tester/serve/client.js';
import type { ServeChild } from '../../src/tester/serve/serve-child.js';
import { makeTempDir, removeTempDirs } from '../support/temp-dir.js';

afterEach(removeTempDirs);

/**
 * The tester's client of one serve, killed while a request through it is in flight. Which the
 * tester notices first, the process's exit or its socket's end, is up to the event loop; here the
 * exit comes first, always: the "serve" is a stand-in whose exit resolves at once while its socket
 * (a real IPC server in this process) stays open until the test closes it.
 */
describe('ServeActor.kill', () => {
  let server: IpcServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('leaves a request in flight to fail as the serve death makes it fail (retryable), not as closed by the tester', async () => {
    const socket = join(await makeTempDir('embecode-serve-client-'), 's.sock');
    let caughtUp!: () => void;
    const asked = new Promise<void>((resolve) => {
      caughtUp = resolve;
    });
    server = await IpcServer.listen(
      socket,
      {
        search: async () => [],
        status: async () => {
          throw new Error('not asked');
        },
        catchUp: () => {
          caughtUp();
          return new Promise(() => undefined);
        },
      },
      { closeGraceMs: 0 },
    );
    let exited!: (exit: { code: number | undefined; signal: string | undefined }) => void;
    const child = {
      pid: process.pid,
      alive: true,
      socket,
      stderr: '',
      exited: new Promise((resolve) => {
        exited = resolve;
      }),
      kill: () => exited({ code: undefined, signal: 'SIGKILL' }),
    } as unknown as ServeChild;
    const history = new History();
    const actor = new ServeActor('serve-1', child, new Recorder(history, 10_000));

    const inFlight = actor.catchUp(10_000);
    await asked;
    const kill = await actor.kill('SIGKILL', true);
    expect(kill.outcome).toBe('ok');
    await server.close();
    server = undefined;
    const event = await inFlight;
    expect(event.ok).toBe(false);
    expect(event.error).not.toMatch(/was closed before/);
    expect(event.errorKind).toBe('unavailable');
    await actor.close();
  });
});
