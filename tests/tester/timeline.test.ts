import { describe, expect, it } from 'vitest';
import type { StepEvent } from '../../src/tester/history.js';
import { timelineHtml } from '../../src/tester/timeline.js';

function step(
  index: number,
  actor: string,
  op: string,
  pid: number,
  start: number,
  end: number,
  ok = true,
): StepEvent {
  return { index, actor, op, args: {}, pid, start, end, outcome: ok ? 'ok' : 'fail', ok } as StepEvent;
}

/** The minimal readonly-direct failure: only the reader took a step, while the owner held the lock. */
const MINIMAL = [step(0, 'reader-1', 'open', 201, 2, 40, false)];
const ACTORS = [
  { actor: 'owner', pid: 100 },
  { actor: 'reader-1', pid: 201 },
  { actor: 'reader-2', pid: 202 },
  { actor: 'intruder', pid: 300 },
  { actor: 'nemesis', pid: 999 },
];

const lanes = (html: string) => [...html.matchAll(/data-lane="([^"]+)">([^<]+)</g)].map((m) => m[2]);

describe('timelineHtml', () => {
  it('draws a lane for every process of the run, also those that took no step', () => {
    const html = timelineHtml(
      't',
      'e',
      [{ title: 'Minimal failing run', steps: MINIMAL, actors: ACTORS }],
      'readonly-direct',
    );
    expect(lanes(html)).toEqual([
      'owner (pid 100)',
      'reader-1 (pid 201)',
      'reader-2 (pid 202)',
      'intruder (pid 300)',
      'nemesis (pid 999)',
    ]);
    // The owner held its READ_WRITE lock from the start of the run to its end: the reason the open failed.
    expect(html).toMatch(
      /class="held owner"><title>owner \(pid 100\) holds READ_WRITE lock on the index file, 0\.0 to 40\.0 ms</,
    );
  });

  it('draws what each process held: the owner until release and from acquire, a reader while open, none after a kill', () => {
    const steps = [
      step(0, 'reader-1', 'open', 201, 1, 2),
      step(1, 'owner', 'release', 100, 10, 20),
      step(2, 'owner', 'acquire', 100, 30, 40),
      { ...step(3, 'nemesis', 'kill-reader', 999, 50, 51), args: { reader: 'reader-1', pid: 201 } },
      step(4, 'owner', 'write', 100, 60, 100),
    ];
    const html = timelineHtml('t', 'e', [{ title: 'run', steps, actors: ACTORS }], 'readonly-direct');
    const held = [...html.matchAll(/<title>([^<]* holds [^<]*)</g)].map((m) => m[1]);
    expect(held).toEqual([
      'owner (pid 100) holds READ_WRITE lock on the index file, 0.0 to 20.0 ms',
      'owner (pid 100) holds READ_WRITE lock on the index file, 40.0 to 100.0 ms',
      'reader-1 (pid 201) holds READ_ONLY lock on the index file, 2.0 to 51.0 ms',
    ]);
  });

  it('has a legend for every colour it uses', () => {
    const html = timelineHtml('t', 'e', [{ title: 'run', steps: MINIMAL, actors: ACTORS }]);
    for (const text of [
      'step ok',
      'step failed',
      'undetermined (process died, deadline passed)',
      'the step that failed the run',
      'owner holds READ_WRITE',
      'reader has the index open',
    ]) {
      expect(html).toContain(`class="legend">${text}</text>`);
    }
  });

  it('labels a bar too short for its label beside it, and a long one inside', () => {
    const steps = [
      step(0, 'owner', 'write', 100, 0, 400),
      step(1, 'owner', 'checkpoint', 100, 401, 402),
      step(2, 'owner', 'checkpoint', 100, 440, 441),
      step(3, 'owner', 'release', 100, 480, 900),
    ];
    const spaced = timelineHtml('t', 'e', [
      {
        title: 'run',
        steps: [steps[0] as StepEvent, steps[1] as StepEvent, step(4, 'owner', 'write', 100, 800, 900)],
      },
    ]);
    expect(spaced).toMatch(/class="outlabel" data-step="1">#1 checkpoint</);
    const html = timelineHtml('t', 'e', [{ title: 'run', steps }]);
    expect(html).toMatch(/class="barlabel">#0 write</);
    // No room for the whole label before the next bar: its number, which the table below explains.
    expect(html).toMatch(/class="outlabel" data-step="1">#1</);
    expect(html).toMatch(/class="outlabel" data-step="2">#2</);
    // Every bar has a tooltip with the whole step.
    expect(html).toMatch(/data-step="1"><title>#1 owner\.checkpoint\(\) — ok — 1\.00 ms</);
  });

  it('says "1 step" and "2 steps"', () => {
    const html = timelineHtml('t', 'e', [
      { title: 'Minimal failing run', steps: MINIMAL },
      { title: 'Original failing run', steps: [...MINIMAL, step(1, 'owner', 'write', 100, 50, 60)] },
    ]);
    expect(html).toContain('<h2>Minimal failing run (1 step)</h2>');
    expect(html).toContain('<h2>Original failing run (2 steps)</h2>');
  });
});
