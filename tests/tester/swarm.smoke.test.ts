import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { liveChildCount, packageRoot } from '../../src/process/children.js';
import { runStress } from '../../src/tester/harness.js';
import { decodeReplayToken } from '../../src/tester/replay-token.js';
import type { StressSummary } from '../../src/tester/report.js';
import { RunHistory, type RunLine } from '../../src/tester/run-history.js';

/**
 * Swarm at the level of whole checks: a token from before swarm still replays to its commands,
 * --no-swarm runs carry no mix, and a suite whose generator lost a command kind fails with
 * `never reached`. The unit side (mixes, weights, the generator without a mix) is in
 * commands/swarm.test.ts.
 */

const cli = join(packageRoot(), 'dist', 'src', 'cli', 'embecode-stress.js');
const scratch = mkdtempSync(join(tmpdir(), 'embecode-swarm-smoke-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  expect(liveChildCount()).toBe(0);
});

function commandsOf(summary: StressSummary): unknown {
  return decodeReplayToken(summary.counterexample?.replay ?? '').commands;
}

describe('a replay token from before swarm existed', () => {
  it('still replays: its seed and path lead to the commands it had, through the generator without swarm', async () => {
    // Printed by main 600dd6c (before swarm) for `run --strategy readonly-direct --seed 7 --runs 30
    // --max-commands 10`, without the commands it carried, so only its fast-check path can replay it.
    const byPath =
      'es1.eyJ2IjoxLCJzdHJhdGVneSI6InJlYWRvbmx5LWRpcmVjdCIsInNlZWQiOjcsInBhdGgiOiIyOjI6MToxOjE6MToxOjE6MToxOjE6MToxOjEiLCJyZXBsYXlQYXRoIjoiQUJEWjpLIiwibWF4Q29tbWFuZHMiOjEwfQ';
    // ...and the commands that token carried, which the path must lead to again.
    const then = [
      {
        c: 'OwnerWrite',
        a: [[{ slot: 0, spec: { definitions: [{ name: [0, 0], body: [] }], tokenAt: 0 }, suffix: 'a' }]],
      },
      { c: 'ReaderSearch', a: [0, { mode: 'bm25', query: { kind: 'absent' }, topK: 10, prefix: 0 }] },
    ];
    const settings = decodeReplayToken(byPath);
    expect(settings.swarm).toBe(false);
    const replayed = await runStress(settings, { artifacts: false });
    expect(replayed.status).toBe('failed');
    expect(replayed.counterexample?.error).toMatch(/^lock conflict: /);
    expect(commandsOf(replayed)).toEqual(then);
    // A run without swarm has no mix to report, and its token carries none.
    expect(replayed.counterexample?.mix).toBeUndefined();
    expect(decodeReplayToken(replayed.counterexample?.replay ?? '').mix).toBeUndefined();
    expect(liveChildCount()).toBe(0);
  });
});

describe('--no-swarm and swarm runs', () => {
  it('a swarm run history line carries the mix each run drew; a --no-swarm one carries none', async () => {
    const settings = { strategy: 'ipc', runs: 1, seed: 5, maxCommands: 4, readers: 1 };
    const lines = async (swarm: boolean) => {
      const history = RunHistory.open(join(scratch, `history-${swarm}`), 'ipc', 5);
      try {
        const summary = await runStress({ ...settings, swarm }, { history, artifacts: false });
        expect(summary.status).toBe('passed');
      } finally {
        history.close();
      }
      return readFileSync(history.file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as RunLine);
    };
    const swarmed = await lines(true);
    expect(swarmed).toHaveLength(1);
    for (const line of swarmed) {
      expect(line.mix?.OwnerWrite).toBeGreaterThan(0);
      // Every command that ran is of a kind its run's mix has.
      for (const kind of line.commands) expect(Object.keys(line.mix ?? {})).toContain(kind);
    }
    const plain = await lines(false);
    expect(plain.map((l) => l.mix)).toEqual([undefined]);
  });
});

describe('a suite whose generator lost a command kind', () => {
  /** A small ipc suite through the CLI, judged on its goals as a default-size one would be. */
  const suite = (extra: string[]) =>
    execa(
      process.execPath,
      [cli, 'run', '--strategy', 'ipc', '--runs', '4', '--seed', '3', '--readers', '1', ...extra],
      {
        reject: false,
        env: { TMPDIR: mkdtempSync(join(scratch, 'drop-')), CI: 'true', STRESS_REACH_MIN_RUNS: '4' },
      },
    );

  it('fails with `never reached: ... a ReaderSearch command` when ReaderSearch is dropped (and reaches it when not)', async () => {
    const [full, dropped] = await Promise.all([suite(['--json']), suite(['--drop-kinds', 'ReaderSearch'])]);
    // The same seed and runs with every kind ran ReaderSearch commands: the drop is what changed.
    const summary = JSON.parse(full.stdout) as StressSummary;
    expect(summary.reach?.commands.ReaderSearch, full.stderr).toBeGreaterThan(0);
    expect(summary.unreached ?? []).not.toContain('a ReaderSearch command');
    expect(dropped.exitCode, dropped.stderr).toBe(1);
    expect(dropped.stderr).toMatch(/never reached: .*a ReaderSearch command/);
    expect(dropped.stderr).toMatch(/seed 3/);
  });
});

describe('bad swarm input', () => {
  it.each([
    [['--drop-kinds', 'Nope'], /^embecode-stress: --drop-kinds names no command kind 'Nope'; the kinds are /],
    [['--target', 'serve', '--drop-kinds', 'ReaderSearch'], /--target serve has its own commands/],
  ])('exits 2 with one line for %j, before any run', async (args, message) => {
    const tmp = mkdtempSync(join(scratch, 'bad-'));
    const strategy = args.includes('--target') ? [] : ['--strategy', 'ipc'];
    const result = await execa(process.execPath, [cli, 'run', ...strategy, ...args], {
      reject: false,
      env: { TMPDIR: tmp, CI: 'true' },
    });
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(readdirSync(tmp)).toEqual([]);
  });
});
