import { spawn } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';
import {
  descendantsOf,
  profileEnabled,
  profileNow,
  roleOf,
  schedstatOf,
} from '../../src/tester/process-profile.js';

describe('roleOf', () => {
  it('names a child by its helper script', () => {
    expect(roleOf(['/usr/bin/node', '/x/dist/helpers/stress-owner.js', '--strategy', 'ipc'])).toBe('owner');
    expect(roleOf(['node', 'dist/helpers/stress-reader.js'])).toBe('reader');
    expect(roleOf(['node', '/a b/dist/helpers/election-candidate.js'])).toBe('election-candidate');
    expect(roleOf(['/bin/sleep', '5'])).toBe('sleep');
  });
});

describe('profileEnabled', () => {
  it('is opt-in', () => {
    expect(profileEnabled({ STRESS_PROFILE: '1' })).toBe(true);
    expect(profileEnabled({})).toBe(false);
    expect(profileEnabled({ STRESS_PROFILE: '0' })).toBe(false);
  });
});

describe.runIf(process.platform === 'linux')('process profile', () => {
  const started: ReturnType<typeof spawn>[] = [];
  const grandchildren: number[] = [];
  afterEach(() => {
    for (const child of started.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    for (const pid of grandchildren.splice(0)) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });

  it('reads CPU time of this process over all its threads, which grows with work', () => {
    const before = schedstatOf(process.pid, 'tester');
    // Burn 40 ms of CPU, however long a loaded machine takes to give it (the wall deadline only
    // stops a machine that gives none): a wall-clock loop could get almost no CPU at all.
    const cpuStart = process.cpuUsage();
    const deadline = performance.now() + 20_000;
    let x = 0;
    const burnt = () => {
      const used = process.cpuUsage(cpuStart);
      return (used.user + used.system) / 1000;
    };
    while (burnt() < 40 && performance.now() < deadline) {
      for (let i = 0; i < 10_000; i++) x += Math.sqrt(x + i);
    }
    const after = schedstatOf(process.pid, 'tester');
    expect(burnt(), 'CPU burnt within 20 s').toBeGreaterThanOrEqual(40);
    expect(x).toBeGreaterThan(0);
    expect(before).toBeDefined();
    expect(after?.cpuMs ?? 0).toBeGreaterThan((before?.cpuMs ?? Number.POSITIVE_INFINITY) + 20);
    // (rusage and schedstat count the same CPU, but rusage by ticks: 20 of the 40 ms leave room.)
    // The main thread is part of the sum, and its life holds its CPU, its waits and its blocked time.
    expect(after?.mainCpuMs ?? 0).toBeLessThanOrEqual(after?.cpuMs ?? 0);
    expect(after?.lifeMs ?? 0).toBeGreaterThan(0);
    expect(after?.mainBlockedMs ?? -1).toBeGreaterThanOrEqual(0);
  });

  it('finds a live child by its role, its children too, and skips processes that are gone', async () => {
    // A node child that itself starts a grandchild, both waiting until killed.
    const script = `require('node:child_process').spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60000)', 'grandchild.js'], { stdio: 'ignore' }); setTimeout(() => {}, 60000);`;
    const child = spawn(process.execPath, ['-e', script, 'dist/helpers/stress-owner.js'], {
      stdio: 'ignore',
    });
    started.push(child);
    const deadline = Date.now() + 10_000;
    let found = descendantsOf(process.pid);
    // Until the grandchild has exec'd: between its fork and its exec it still shows its parent's command line.
    const ready = () => found.some((p) => p.pid === child.pid) && found.some((p) => p.role === 'grandchild');
    while (!ready() && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      found = descendantsOf(process.pid);
    }
    expect(found.find((p) => p.pid === child.pid)?.role, 'the child, within 10 s').toBe('owner');
    const grandchild = found.find((p) => p.role === 'grandchild');
    if (grandchild !== undefined) grandchildren.push(grandchild.pid);
    expect(grandchild, 'the grandchild, within 10 s').toBeDefined();

    const profile = profileNow(1000, 3);
    expect(profile.processes[0]?.role).toBe('tester');
    expect(profile.processes.map((p) => p.role)).toEqual(
      expect.arrayContaining(['tester', 'owner', 'grandchild']),
    );
    expect(profile).toMatchObject({ checkMs: 1000, runs: 3 });
    expect(profile.endedChildrenCpuMs).toBeGreaterThanOrEqual(0);

    process.kill(grandchild?.pid ?? 0, 'SIGKILL');
    child.kill('SIGKILL');
    await new Promise((resolve) => child.once('exit', resolve));
    expect(schedstatOf(child.pid ?? 0, 'owner')).toBeUndefined();
    expect(descendantsOf(process.pid).some((p) => p.pid === child.pid)).toBe(false);
  });
});
