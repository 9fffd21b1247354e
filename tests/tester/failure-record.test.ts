import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { replayPathOf } from '../../src/tester/failure-record.js';

/** A counter whose model is plain; the "system" breaks once it has been bumped three times. */
class Bump implements fc.Command<{ n: number }, { n: number }> {
  check(): boolean {
    return true;
  }
  run(model: { n: number }, real: { n: number }): void {
    model.n += 1;
    real.n += 1;
    if (real.n >= 3) throw new Error('bumped three times');
  }
  toString(): string {
    return 'Bump';
  }
}

class Noop implements fc.Command<{ n: number }, { n: number }> {
  check(): boolean {
    return true;
  }
  run(): void {}
  toString(): string {
    return 'Noop';
  }
}

function property(replayPath?: string) {
  const commands = fc.commands([fc.constant(new Bump()), fc.constant(new Noop())], {
    maxCommands: 12,
    ...(replayPath === undefined ? {} : { replayPath }),
  });
  return fc.property(commands, (cmds) => {
    fc.modelRun(() => ({ model: { n: 0 }, real: { n: 0 } }), cmds);
  });
}

describe('replayPathOf, against the text fast-check really prints for a failing command sequence', () => {
  it('finds the replay path, and that path with the seed and run path replays the same commands', () => {
    const details = fc.check(property(), { seed: 7, numRuns: 100 });
    expect(details.failed).toBe(true);
    const printed = String(details.counterexample?.[0] ?? '');
    // The format the harness relies on: the commands, then fast-check's replay comment.
    expect(printed).toMatch(/^Bump,.*\/\*replayPath=".*"\*\/$/);
    const replayPath = replayPathOf(printed);
    expect(replayPath).not.toBe('');

    const again = fc.check(property(replayPath), {
      seed: details.seed,
      path: details.counterexamplePath ?? '',
      endOnFailure: true,
    });
    expect(again.failed).toBe(true);
    expect(String(again.counterexample?.[0] ?? '').replace(/ \/\*.*\*\/$/, '')).toBe(
      printed.replace(/ \/\*.*\*\/$/, ''),
    );
  });

  it('is empty for a sequence without the comment', () => {
    expect(replayPathOf('Bump,Noop')).toBe('');
  });
});
