import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { pidAlive } from '../../src/process/pid-alive.js';

describe('pidAlive', () => {
  it('is true for this process and for PID 1 (another user: EPERM still means it exists)', () => {
    expect(pidAlive(process.pid)).toBe(true);
    expect(pidAlive(1)).toBe(true);
  });

  it('is false for a child that has exited and been reaped', () => {
    const child = spawnSync(process.execPath, ['-e', '']);
    expect(child.status).toBe(0);
    expect(pidAlive(child.pid)).toBe(false);
  });

  it('is false for what names no single process: 0 and negatives (process groups), NaN, fractions', () => {
    for (const pid of [0, -1, -process.pid, Number.NaN, 1.5]) expect(pidAlive(pid)).toBe(false);
  });
});
