import { createLogUpdate } from 'log-update';
import type { ProgressEvent } from './harness.js';

/** Seconds between lines when output is not a live terminal (CI logs stay short). */
const LINE_INTERVAL_S = 30;
/** A live line is redrawn at most this often. */
const REDRAW_MS = 100;

export interface ProgressReporter {
  update(event: ProgressEvent): void;
  /** Clears the live line (the summary prints after it). */
  done(): void;
}

/** The live line; it carries the seed, so a run stopped any way at all can be repeated. */
export function describeProgress(event: ProgressEvent, seconds: number): string {
  if (event.shrinkStep !== undefined) {
    return `${event.strategy}: counterexample found, shrinking step ${event.shrinkStep} (${seconds.toFixed(0)} s, seed ${event.seed})`;
  }
  const rate = event.generated / Math.max(seconds, 0.001);
  const left = Math.max(0, event.runs - event.generated);
  const eta = rate > 0 ? Math.ceil(left / rate) : 0;
  const done = event.skipped + event.generated;
  return `${event.strategy}: ${done}/${event.skipped + event.runs} runs, ${rate.toFixed(1)} runs/s, ETA ${eta} s, seed ${event.seed}`;
}

/**
 * A live status line on a terminal; in CI or when stderr is not a terminal, a plain line every
 * 30 s (nothing at all for short runs), so logs stay readable.
 */
export function createProgressReporter(stream: NodeJS.WriteStream = process.stderr): ProgressReporter {
  const started = performance.now();
  const live = stream.isTTY === true && !process.env.CI;
  if (live) {
    const render = createLogUpdate(stream);
    let last = 0;
    return {
      update(event) {
        const now = performance.now();
        if (now - last < REDRAW_MS) return;
        last = now;
        render(describeProgress(event, (now - started) / 1000));
      },
      done() {
        render.clear();
        render.done();
      },
    };
  }
  let nextLine = started + LINE_INTERVAL_S * 1000;
  return {
    update(event) {
      const now = performance.now();
      if (now < nextLine) return;
      nextLine = now + LINE_INTERVAL_S * 1000;
      stream.write(`${describeProgress(event, (now - started) / 1000)}\n`);
    },
    done() {},
  };
}
