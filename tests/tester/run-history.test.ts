import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OwnerCheckpoint, OwnerDelete } from '../../src/tester/commands/owner-commands.js';
import type { StepEvent } from '../../src/tester/history.js';
import {
  checkHistoryDir,
  RunHistory,
  type RunLine,
  readRunLine,
  replaySettingsOf,
  runLine,
} from '../../src/tester/run-history.js';
import { StepFailure } from '../../src/tester/world.js';

const scratch = mkdtempSync(join(tmpdir(), 'embecode-history-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const SETTINGS = { strategy: 'ipc', runs: 200, seed: 42, maxCommands: 12, readers: 1, faults: true };

const step: StepEvent = {
  index: 0,
  actor: 'owner',
  op: 'delete',
  args: { slot: 0 },
  pid: 10,
  start: 0,
  end: 1,
  outcome: 'ok',
  ok: true,
};

describe('runLine', () => {
  it('names the run, its fast-check path, its command kinds, what it reached and its outcome', () => {
    const line = runLine(
      SETTINGS,
      7,
      { commands: [new OwnerDelete(0), new OwnerCheckpoint()], steps: [step] },
      12.4,
    );
    expect(line).toMatchObject({
      v: 1,
      strategy: 'ipc',
      seed: 42,
      run: 7,
      path: '6',
      maxCommands: 12,
      readers: 1,
      faults: true,
      commands: ['OwnerDelete', 'OwnerCheckpoint'],
      outcome: 'passed',
      ms: 12,
    });
    expect(line.reach.steps).toEqual({ 'owner.delete': 1 });
    expect(line).not.toHaveProperty('replayCommands');
  });

  it("keeps a failed run's kind, first error line and its commands in full", () => {
    const cause = new StepFailure(
      { ...step, ok: false },
      'lock conflict: reader-1.open failed\nmore',
      'locked',
    );
    const line = runLine(SETTINGS, 3, { commands: [new OwnerDelete(1)], steps: [step], error: cause }, 5);
    expect(line).toMatchObject({
      outcome: 'failed',
      kind: 'locked',
      error: 'lock conflict: reader-1.open failed',
      replayCommands: [{ c: 'OwnerDelete', a: [1] }],
    });
    // A failed line replays its own commands; a passed one its seed and path.
    expect(replaySettingsOf(line)).toMatchObject({
      seed: 42,
      runs: 1,
      path: '2',
      commands: [{ c: 'OwnerDelete', a: [1] }],
    });
    const passed = replaySettingsOf({ ...line, outcome: 'passed', replayCommands: undefined } as RunLine);
    expect(passed).not.toHaveProperty('commands');
    expect(passed).toMatchObject({
      strategy: 'ipc',
      seed: 42,
      path: '2',
      maxCommands: 12,
      readers: 1,
      faults: true,
    });
  });
});

describe('RunHistory', () => {
  it('writes one line per run to a new file in the directory, and reads run K back', () => {
    const dir = join(scratch, 'nested', 'history');
    const history = RunHistory.open(dir, 'ipc', 42);
    for (const run of [1, 2, 3])
      history.write(runLine(SETTINGS, run, { commands: [new OwnerDelete(0)], steps: [step] }, 1));
    history.close();
    expect(readdirSync(dir)).toEqual([expect.stringMatching(/^ipc-seed42-\d{8}T\d{6}-\d+\.jsonl$/)]);
    expect(readFileSync(history.file, 'utf8').trim().split('\n')).toHaveLength(3);
    expect(readRunLine(history.file, 2).path).toBe('1');
    expect(() => readRunLine(history.file, 9)).toThrow(
      `--history ${history.file}: no run 9 (it has runs 1 to 3)`,
    );
  });

  it('refuses a directory it cannot write, with one line naming it', () => {
    const file = join(scratch, 'plain-file');
    writeFileSync(file, 'x');
    expect(() => checkHistoryDir(file)).toThrow(
      `--history ${file}: cannot write a run history there (not a directory); name a writable directory`,
    );
    expect(() => checkHistoryDir('/proc/embecode-x', 'STRESS_HISTORY')).toThrow(
      'STRESS_HISTORY /proc/embecode-x: cannot write a run history there (not writable); name a writable directory',
    );
    expect(() => checkHistoryDir(' ')).toThrow('--history needs a directory');
  });

  it('says what is wrong with a file that is not a run history', () => {
    const bad = join(scratch, 'bad.jsonl');
    writeFileSync(bad, 'not json\n{"v":1,"run":1}\n');
    expect(() => readRunLine(bad, 1)).toThrow(`--history ${bad}: line 1 is not JSON; is this a run history?`);
    expect(() => readRunLine(join(scratch, 'none.jsonl'), 1)).toThrow('no such file');
    expect(() => readRunLine(scratch, 1)).toThrow('is a directory; name one of the .jsonl files in it');
    // A last line cut short by a killed process is skipped, not an error.
    const cut = join(scratch, 'cut.jsonl');
    writeFileSync(cut, `${JSON.stringify({ v: 1, run: 1, path: '0' })}\n{"v":1,"ru`);
    expect(readRunLine(cut, 1).path).toBe('0');
  });
});
