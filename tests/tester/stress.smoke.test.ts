import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterAll, describe, expect, it } from 'vitest';
import { liveChildCount, packageRoot } from '../../src/process/children.js';
import { runStress } from '../../src/tester/harness.js';
import { decodeReplayToken } from '../../src/tester/replay-token.js';
import type { StressSummary } from '../../src/tester/report.js';
import { RunHistory, type RunLine } from '../../src/tester/run-history.js';
import { holdsWithin } from '../support/wait-until.js';
import {
  expectShrunkLockConflict,
  removeArtifact,
  SMOKE_JUDGING_ENV,
  traceShape,
  withEnv,
} from './stress-expectations.js';

/**
 * A few runs of the property suite, for `npm test`: the tester still finds and shrinks the lock
 * conflict, its replay reproduces it, the CLI keeps its contract, and nothing is left behind.
 */

const cli = join(packageRoot(), 'dist', 'src', 'cli', 'embecode-stress.js');
const unknownStrategyToken = `es1.${Buffer.from(
  JSON.stringify({ v: 1, strategy: 'nope', seed: 1, path: '0', replayPath: '', maxCommands: 5 }),
).toString('base64url')}`;
const scratch = mkdtempSync(join(tmpdir(), 'embecode-smoke-'));

afterAll(() => {
  rmSync(scratch, { recursive: true, force: true });
  expect(liveChildCount()).toBe(0);
});

/** Runs the CLI with its temp files under a private TMPDIR, so leaks are visible. */
function stressCli(args: string[], tmp: string) {
  return execa(process.execPath, [cli, ...args], {
    reject: false,
    env: { TMPDIR: tmp, CI: 'true', STRESS_ARTIFACTS: join(scratch, 'artifacts'), ...SMOKE_JUDGING_ENV },
  });
}

describe('hangs', () => {
  it('a step past its deadline fails the run as a hang, with what each process was doing, and leaves nothing running', async () => {
    // 1 ms is less than any real step takes: the first recorded step of every run hangs. Without
    // swarm, seed 7's hanging step is a delete with nothing to shrink: every shrink of a hang
    // restarts every child, and with swarm's mix seed 7 hangs a write, 13 shrinks and 80 s. Some
    // generated runs record no step at all (a repeat or a search with nothing before it), so
    // up to 10 runs: the first that records a step fails.
    const summary = await runStress(
      { strategy: 'ipc', runs: 10, seed: 7, maxCommands: 2, readers: 1, stepDeadlineS: 0.001, swarm: false },
      { artifacts: false },
    );
    expect(summary.status).toBe('failed');
    const cx = summary.counterexample;
    expect(cx?.kind).toBe('hang');
    expect(cx?.error).toMatch(/^hang: .* did not finish within 1 ms/);
    expect(cx?.details).toMatch(/what each process was doing: owner \d+: /);
    expect(cx?.steps.at(-1)?.outcome).toBe('info');
    expect(decodeReplayToken(cx?.replay ?? '').stepDeadlineS).toBe(0.001);
    expect(liveChildCount()).toBe(0);
  });
});

describe('readonly-direct smoke', () => {
  it.each([1, 2])('finds the lock conflict and shrinks it to at most 2 steps (seed %i)', async (seed) => {
    const summary = await runStress(
      { strategy: 'readonly-direct', runs: 30, seed, maxCommands: 10 },
      { artifacts: false },
    );
    // "FAILED after N runs" counts generated runs only; shrinking is counted apart.
    expect(summary.runs).toBeLessThanOrEqual(30);
    expect(summary.shrinkRuns).toBeGreaterThan(0);
    // The temp directory the lock error names is gone, and the report says so.
    const removed = summary.counterexample?.removedDir as string;
    expect(summary.counterexample?.error).toContain(removed);
    expect(existsSync(removed)).toBe(false);
    expectShrunkLockConflict(summary);
    // The minimizer's claim and the race-or-logic replays (at least 2 replays whatever the bound).
    expect(summary.counterexample?.minimality).toMatch(
      /^(1-minimal: removing any one step makes it pass 3\/3|not shown 1-minimal: )/,
    );
    expect(summary.counterexample?.failureClass?.of).toBeGreaterThanOrEqual(2);
    expect(summary.counterexample?.failureClass?.failed).toBeGreaterThan(0);
    // What the two passes cost is part of the time to report, and the summary says how much.
    const judged = summary.counterexample?.judgedMs;
    expect((judged?.minimize ?? -1) + (judged?.classify ?? -1)).toBeLessThanOrEqual(summary.elapsedMs);
    expect(judged?.classify).toBeGreaterThan(0);
    expect(liveChildCount()).toBe(0);
  });

  it('STRESS_MINIMIZE_REPLAYS=0 and STRESS_CLASSIFY_REPLAYS=0 report the shrunk trace without either pass', async () => {
    const off = { STRESS_MINIMIZE_REPLAYS: '0', STRESS_CLASSIFY_REPLAYS: '0' };
    const summary = await withEnv(off, () =>
      runStress({ strategy: 'readonly-direct', runs: 30, seed: 2, maxCommands: 10 }, { artifacts: false }),
    );
    // fast-check's shrinking alone: the lock conflict, in however many steps it left.
    expect(summary.status).toBe('failed');
    expect(summary.counterexample?.kind).toBe('locked');
    expect(summary.counterexample?.minimality).toBeUndefined();
    expect(summary.counterexample?.failureClass).toBeUndefined();
    expect(summary.counterexample?.judgedMs?.classify).toBeLessThan(50);
  });

  it('replays a token to the same trace', async () => {
    const first = await withEnv(SMOKE_JUDGING_ENV, () =>
      runStress(
        { strategy: 'readonly-direct', runs: 30, seed: 7, maxCommands: 10 },
        { artifacts: join(scratch, 'artifacts') },
      ),
    );
    let replayed: StressSummary | undefined;
    try {
      const token = first.counterexample?.replay ?? '';
      replayed = await runStress(decodeReplayToken(token));
      expect(replayed.status).toBe('failed');
      expect(traceShape(replayed)).toEqual(traceShape(first));
      // A swarm run's token names its mix; without its commands, its seed and path draw that mix
      // again and lead to the same commands.
      const { commands, ...byPath } = decodeReplayToken(token);
      expect(byPath).toMatchObject({ swarm: true, mix: { OwnerWrite: expect.any(Number) } });
      expect(first.counterexample?.mix).toMatch(/OwnerWritex\d/);
      const again = await runStress(byPath, { artifacts: false });
      expect(again.status).toBe('failed');
      expect(decodeReplayToken(again.counterexample?.replay ?? '').commands).toEqual(commands);
      // A mix this seed does not draw (the generator changed): said exactly, nothing replayed.
      const mix = { ...byPath.mix, OwnerDelete: (byPath.mix?.OwnerDelete ?? 0) + 1 };
      const refused = await runStress({ ...byPath, mix }, { artifacts: false });
      expect(refused.status).toBe('error');
      expect(refused.reason).toMatch(
        /^this replay token's command mix \(.*\) is not the one this embecode-stress draws for seed 7 and path .*the generator changed since the token was made/,
      );
    } finally {
      removeArtifact(first);
      if (replayed) removeArtifact(replayed);
    }
  });
});

describe('run history', () => {
  it('has a line per run; --from-run K runs exactly run K on; replay --history FILE --run K replays it', async () => {
    const settings = { strategy: 'ipc', runs: 2, seed: 11, maxCommands: 4, readers: 1 };
    const full = RunHistory.open(join(scratch, 'history-full'), 'ipc', 11);
    const resumed = RunHistory.open(join(scratch, 'history-resumed'), 'ipc', 11);
    try {
      expect((await runStress(settings, { history: full, artifacts: false })).status).toBe('passed');
      const resumedSummary = await runStress(
        { ...settings, fromRun: 2 },
        { history: resumed, artifacts: false },
      );
      expect(resumedSummary).toMatchObject({ status: 'passed', runs: 1 });
    } finally {
      full.close();
      resumed.close();
    }
    const lines = (file: string) =>
      readFileSync(file, 'utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as RunLine);
    const all = lines(full.file);
    expect(all.map((l) => [l.run, l.path, l.outcome])).toEqual([
      [1, '0', 'passed'],
      [2, '1', 'passed'],
    ]);
    const [again] = lines(resumed.file);
    expect(again?.run).toBe(2);
    expect(again?.commands).toEqual(all[1]?.commands);
    // Swarm: a resumed run draws the mix the full check drew for it.
    expect(again?.mix).toEqual(all[1]?.mix);
    const replay = await stressCli(
      ['replay', '--history', full.file, '--run', '2', '--times', '1', '--json'],
      mkdtempSync(join(scratch, 'history-replay-')),
    );
    expect(replay.exitCode, replay.stderr).toBe(0);
    expect((JSON.parse(replay.stdout) as StressSummary).reach?.steps).toEqual(all[1]?.reach.steps);
  });
});

describe('embecode-stress CLI', () => {
  it('run --help shows the default of every option', async () => {
    const help = await stressCli(['run', '--help'], scratch);
    expect(help.exitCode).toBe(0);
    // One entry per option: its first line and the wrapped lines after it.
    const entries = help.stdout
      .split('\n')
      .reduce<string[]>((all, line) => {
        if (/^ {2}-/.test(line)) all.push(line.trim());
        else if (all.length > 0 && /^ {3,}\S/.test(line)) all[all.length - 1] += ` ${line.trim()}`;
        return all;
      }, [])
      .filter((entry) => !entry.startsWith('--strategy') && !entry.startsWith('-h, --help'));
    expect(entries.length).toBeGreaterThanOrEqual(13);
    for (const entry of entries) expect(entry).toMatch(/default[: ]/);
  });

  it('exits 1 with a JSON counterexample whose replay command prints the same steps', async () => {
    const tmp = mkdtempSync(join(scratch, 'cli-'));
    const run = await stressCli(
      ['run', '--strategy', 'readonly-direct', '--runs', '100', '--seed', '42', '--json'],
      tmp,
    );
    expect(run.exitCode, run.stderr).toBe(1);
    const summary = JSON.parse(run.stdout) as StressSummary;
    expect(Object.keys(summary).sort()).toEqual([
      'counterexample',
      'elapsedMs',
      // What the runs exercised (reach.ts): counts beside the contract's fields.
      'reach',
      'runs',
      'seed',
      'shrinkRuns',
      'status',
      'strategy',
    ]);
    expect(summary).toMatchObject({ strategy: 'readonly-direct', status: 'failed', seed: 42 });
    const cx = summary.counterexample;
    expect(cx?.steps.length).toBeLessThanOrEqual(2);
    expect(cx?.error).toMatch(/Conflicting lock is held/);
    const [, , , token] = (cx?.replayCommand ?? '').split(' ');
    const replay = await stressCli(['replay', token as string, '--json', '--times', '3'], tmp);
    expect(replay.exitCode, replay.stderr).toBe(1);
    const replayed = JSON.parse(replay.stdout) as StressSummary;
    expect(replayed.reproduced).toEqual({ times: 3, of: 3 });
    expect(traceShape(replayed)).toEqual(traceShape(summary));
    const artifact = cx?.artifact as string;
    for (const file of [
      'replay-token.txt',
      'summary.json',
      'trace.txt',
      'history.jsonl',
      'timeline.html',
      'versions.json',
      'owner-stderr.txt',
    ]) {
      expect(existsSync(join(artifact, file)), file).toBe(true);
    }
    const byDir = await stressCli(['replay', artifact, '--times', '2'], tmp);
    expect(byDir.exitCode).toBe(1);
    expect(byDir.stderr).toContain('reproduced 2/2');
    expect(byDir.stderr).toMatch(/ \d\. reader-1\.open\(\) +ERROR/);
    rmSync(artifact, { recursive: true, force: true });
  });

  it('runs worker processes and merges their summaries (--workers 2)', async () => {
    const tmp = mkdtempSync(join(scratch, 'workers-'));
    const run = await stressCli(
      ['run', '--strategy', 'readonly-direct', '--runs', '40', '--seed', '9', '--workers', '2', '--json'],
      tmp,
    );
    expect(run.exitCode, run.stderr).toBe(1);
    const summary = JSON.parse(run.stdout) as StressSummary;
    expect(summary).toMatchObject({ strategy: 'readonly-direct', status: 'failed', seed: 9 });
    expect(summary.counterexample?.steps.length).toBeLessThanOrEqual(2);
    expect(summary.counterexample?.error).toMatch(/Conflicting lock is held/);
    rmSync(summary.counterexample?.artifact as string, { recursive: true, force: true });
    expect(readdirSync(tmp)).toEqual([]);
  });

  it.each([
    [['run', '--strategy', 'nope'], /strategy/],
    [['run', '--strategy', 'readonly-direct', '--runs', '-3'], /--runs must be a positive integer/],
    [['run', '--strategy', 'readonly-direct', '--seed', 'x'], /--seed must be an integer/],
    [['replay', 'es1.AAAA'], /replay token is damaged/],
    [['replay', 'es9.AAAA'], /version 'es9' is not supported/],
    [['replay', 'hello'], /is not a replay token/],
    [['replay', unknownStrategyToken], /unknown strategy 'nope'/],
    [['replay', 'es1.eyJ2IjoxLCJzdHJhdGVneSI6InJlYWRvbmx5'], /replay token is damaged/],
    [['run', '--strategy', 'readonly-direct', '--artifacts', ''], /--artifacts needs a directory/],
    [[], /missing command/],
    [['run', '--strategy', 'readonly-direct', '--workers', '0'], /--workers must be a positive integer/],
    [['run', '--strategy', 'readonly-direct', '--shard', '3/2'], /--shard must be i\/n/],
    [['run', '--strategy', 'readonly-direct', '--runs', 'many'], /--runs must be a positive integer/],
    [['run', '--strategy', 'ipc', '--readers', '0'], /--readers must be a positive integer/],
    [['run', '--strategy', 'ipc', '--readers', '-2'], /--readers must be a positive integer/],
    [['run', '--strategy', 'ipc', '--readers', 'two'], /--readers must be a positive integer/],
    [['run', '--strategy', 'ipc', '--readers', ''], /--readers must be a positive integer/],
    [['run', '--strategy', 'ipc', '--readers', '99'], /--readers must be at most 8/],
    [['run', '--strategy', 'ipc', '--step-deadline', '0'], /--step-deadline must be a positive number/],
    [['run', '--strategy', 'ipc', '--step-deadline', '-1'], /--step-deadline must be a positive number/],
    [['run', '--strategy', 'ipc', '--step-deadline', 'soon'], /--step-deadline must be a positive number/],
    [['run', '--strategy', 'ipc', '--step-deadline', ''], /--step-deadline must be a positive number/],
    // Checked before any run starts (the run history of a nightly must not fail at its end).
    [
      ['run', '--strategy', 'ipc', '--runs', '5', '--history', '/proc/embecode-history'],
      /^embecode-stress: --history \/proc\/embecode-history: cannot write a run history there \(not writable\); name a writable directory$/,
    ],
    [['replay', '.'], /not a complete failure artifact|is not a replay token/],
  ])('exits 2 with one line for bad input %j', async (args, message) => {
    const tmp = mkdtempSync(join(scratch, 'bad-'));
    const result = await stressCli(args, tmp);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(message);
    expect(readdirSync(tmp)).toEqual([]);
  });

  it.each([[[]], [['--workers', '2']]])(
    'Ctrl-C after the first run prints the summary so far, the seed and a repeat command, and leaves no process and no temp dir (extra args %j)',
    async (extra) => {
      const tmp = mkdtempSync(join(scratch, 'sigint-'));
      const artifacts = mkdtempSync(join(scratch, 'sigint-artifacts-'));
      const history = mkdtempSync(join(scratch, 'sigint-history-'));
      const workers = extra.length > 0;
      // ipc holds its contract, so the run is still going when the interrupt comes.
      const child = execa(
        process.execPath,
        [cli, 'run', '--strategy', 'ipc', '--runs', '100000', '--seed', '3', '--history', history, ...extra],
        { reject: false, env: { TMPDIR: tmp, STRESS_ARTIFACTS: artifacts } },
      );
      // The history gets a line as each run ends: interrupt once the first run is done.
      const deadline = Date.now() + 90_000;
      while (Date.now() < deadline && historyLines(history) === 0 && child.exitCode === null) {
        await sleep(50);
      }
      expect(historyLines(history), 'a first run completed within 90 s').toBeGreaterThan(0);
      const tree = await descendants(child.pid as number);
      expect(await hasOwner(tree)).toBe(true);
      child.kill('SIGINT');
      const result = await child;
      // The process ends by the signal itself, as Ctrl-C's default does (a shell shows 130).
      expect(result.signal ?? String(result.exitCode)).toBe('SIGINT');
      const [first] = result.stderr.split('\n').filter((line) => line.startsWith('embecode-stress: '));
      expect(first).toMatch(
        /^embecode-stress: ipc: interrupted by SIGINT after \d+ runs? of 100000; the contract held in those \(seed 3, [\d.]+ s\)$/,
      );
      const done = Number(/after (\d+) run/.exec(first ?? '')?.[1]);
      expect(done).toBeGreaterThanOrEqual(1);
      expect(result.stderr).toContain('what the runs reached:');
      const lines = result.stderr.split('\n');
      const repeat = `npx embecode-stress run --strategy ipc --seed 3 --runs 100000 --max-commands 12${workers ? ' --workers 2' : ''}`;
      expect(lines).toContain(`repeat with: ${repeat}`);
      if (workers) expect(result.stderr).not.toContain('resume with:');
      else expect(lines).toContain(`resume with: ${repeat} --from-run ${done + 1}`);
      // Signals are delivered asynchronously, and workers clean up after their parent is gone:
      // no stress-owner, stress-reader, intruder or worker outlives the CLI.
      for (const pid of tree) expect(await diesWithin(pid, 5000), `process ${pid} ended`).toBe(true);
      expect(await emptiesWithin(tmp, 5000)).toBe(true);
      expect(readdirSync(artifacts)).toEqual([]);
    },
  );
});

/** Lines in all history files under `dir` (one per finished run). */
function historyLines(dir: string): number {
  return readdirSync(dir)
    .map(
      (name) =>
        readFileSync(join(dir, name), 'utf8')
          .split('\n')
          .filter((l) => l.trim() !== '').length,
    )
    .reduce((a, b) => a + b, 0);
}

/** Every process below `parent`, children first. */
async function descendants(parent: number): Promise<number[]> {
  const result = await execa('pgrep', ['-P', String(parent)], { reject: false });
  const children = result.stdout
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map(Number);
  const below = await Promise.all(children.map((pid) => descendants(pid)));
  return [...children, ...below.flat()];
}

async function hasOwner(pids: readonly number[]): Promise<boolean> {
  return pids.some((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('stress-owner');
    } catch {
      return false;
    }
  });
}

function emptiesWithin(dir: string, ms: number): Promise<boolean> {
  return holdsWithin(() => readdirSync(dir).length === 0, ms, 20);
}

function diesWithin(pid: number, ms: number): Promise<boolean> {
  return holdsWithin(() => !runningNotZombie(pid), ms);
}

/** Running, not a zombie: a killed child whose parent died waits for init to reap it. */
function runningNotZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return !/^\d+ \(.*\) Z/.test(stat);
  } catch {
    return false;
  }
}
