import type { StepEvent } from './history.js';
import { plural } from './report.js';

/**
 * A self-contained HTML timeline of a run: one lane per process (the owner, each reader, the
 * intruder, the nemesis), also for a process that took no step, with a band for what it held
 * (the owner's READ_WRITE lock on the index, a reader's open index) behind one bar per step.
 * Failed steps are red, undetermined ones orange, the step that failed the run is outlined; a
 * legend says so. Plain SVG, no script, so it opens anywhere, offline.
 */

/** A process of the run, as the run knew it when it ended (steps alone miss one that took none). */
export interface RunActor {
  readonly actor: string;
  readonly pid: number;
}

const LANE_HEIGHT = 40;
const LABEL_WIDTH = 190;
const PLOT_WIDTH = 900;
const AXIS_HEIGHT = 28;
const LEGEND_HEIGHT = 30;
/** Pixels a label needs per character (11 px monospace). */
const CHAR_WIDTH = 6.7;
/** ...and for a hold's label (10 px sans-serif). */
const HELD_CHAR_WIDTH = 5.6;

/** What a reader holds while it is open, per strategy: readers reach the index differently. */
const READER_HOLDS: Readonly<Record<string, string>> = {
  'readonly-direct': 'READ_ONLY lock on the index file',
  ipc: 'a connection to the owner (no lock on the file)',
  snapshot: 'READ_ONLY on a published snapshot',
  handoff: 'the index, handed over by the owner',
};

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function label(step: StepEvent): string {
  const args = Object.entries(step.args)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return `#${step.index} ${step.actor}.${step.op}(${args})`;
}

interface Lane {
  readonly actor: string;
  readonly pid: number;
  readonly steps: StepEvent[];
}

const ORDER = (actor: string) =>
  actor === 'owner' ? 0 : actor.startsWith('reader') ? 1 : actor === 'intruder' ? 2 : 3;

/** One lane per process: those that took steps, and those the run had that took none. */
function lanesOf(steps: readonly StepEvent[], actors: readonly RunActor[]): Lane[] {
  const lanes = new Map<string, Lane>();
  const lane = (actor: string, pid: number) => {
    const key = `${actor} ${pid}`;
    let found = lanes.get(key);
    if (found === undefined) {
      found = { actor, pid, steps: [] };
      lanes.set(key, found);
    }
    return found;
  };
  for (const step of steps) lane(step.actor, step.pid).steps.push(step);
  for (const { actor, pid } of actors) {
    // A process that was replaced (a restarted owner) is already there under its own pid.
    if (![...lanes.values()].some((l) => l.actor === actor && l.pid === pid)) lane(actor, pid);
  }
  return [...lanes.values()].sort(
    (a, b) => ORDER(a.actor) - ORDER(b.actor) || a.actor.localeCompare(b.actor, 'en', { numeric: true }),
  );
}

interface Held {
  readonly from: number;
  readonly to: number;
  readonly what: string;
}

/**
 * What the process of a lane held, over time, from its steps and the nemesis's: the first owner
 * holds the index from the run's start (it opened it before the first step), a restarted one
 * from its restart; release and acquire end and start a hold, a kill ends everything.
 */
function heldBy(lane: Lane, all: readonly StepEvent[], end: number, strategy: string | undefined): Held[] {
  const killedAt = all.find(
    (s) => s.actor === 'nemesis' && s.op.startsWith('kill') && s.args.pid === lane.pid && s.ok,
  )?.end;
  const until = killedAt ?? end;
  const spans: Held[] = [];
  if (lane.actor === 'owner') {
    const what = 'READ_WRITE lock on the index file';
    const restart = lane.steps.find((s) => s.op === 'restart' && s.ok);
    let since: number | undefined = restart?.end ?? 0;
    for (const step of lane.steps) {
      if (step.op === 'release' && step.ok && since !== undefined) {
        spans.push({ from: since, to: step.end, what });
        since = undefined;
      } else if (step.op === 'acquire' && step.ok && since === undefined) {
        since = step.end;
      }
    }
    if (since !== undefined) spans.push({ from: since, to: until, what });
  } else if (lane.actor.startsWith('reader')) {
    const what = READER_HOLDS[strategy ?? ''] ?? 'the index, open';
    let since: number | undefined;
    for (const step of lane.steps) {
      if (step.op === 'open' && step.ok && since === undefined) since = step.end;
      else if (step.op === 'close' && since !== undefined) {
        spans.push({ from: since, to: step.start, what });
        since = undefined;
      }
    }
    if (since !== undefined) spans.push({ from: since, to: until, what });
  }
  return spans.filter((s) => s.to > s.from);
}

function stepClass(step: StepEvent, failing: number | undefined): string {
  const state = step.ok ? 'ok' : step.outcome === 'info' ? 'info' : 'failed';
  return ['bar', state, step.index === failing ? 'failing' : ''].join(' ').trim();
}

const LEGEND: readonly (readonly [string, string])[] = [
  ['bar ok', 'step ok'],
  ['bar failed', 'step failed'],
  ['bar info', 'undetermined (process died, deadline passed)'],
  ['bar ok failing', 'the step that failed the run'],
  ['held owner', 'owner holds READ_WRITE'],
  ['held reader', 'reader has the index open'],
];

function legend(): string {
  let x = 4;
  return LEGEND.map(([cls, text]) => {
    const item = `<rect x="${x}" y="6" width="18" height="12" class="${cls}"/><text x="${x + 24}" y="16" class="legend">${escapeHtml(text)}</text>`;
    x += 30 + text.length * CHAR_WIDTH + 14;
    return item;
  }).join('');
}

export interface TimelineOptions {
  /** Index of the step that failed the run, if any. */
  readonly failing?: number;
  /** Every process the run had, so one that took no step still gets its lane. */
  readonly actors?: readonly RunActor[];
  /** The strategy, which decides what an open reader holds. */
  readonly strategy?: string;
}

/** One SVG for one history. */
export function timelineSvg(steps: readonly StepEvent[], options: TimelineOptions = {}): string {
  const { failing, strategy } = options;
  const lanes = lanesOf(steps, options.actors ?? []);
  const end = Math.max(...steps.map((s) => s.end), 1);
  const x = (t: number) => LABEL_WIDTH + (Math.max(0, t) / end) * PLOT_WIDTH;
  const top = LEGEND_HEIGHT + AXIS_HEIGHT;
  const height = top + lanes.length * LANE_HEIGHT + 10;
  const parts: string[] = [legend()];
  for (let tick = 0; tick <= 4; tick++) {
    const t = (end * tick) / 4;
    parts.push(`<text x="${x(t)}" y="${LEGEND_HEIGHT + 14}" class="tick">${t.toFixed(1)} ms</text>`);
  }
  lanes.forEach((lane, i) => {
    const y = top + i * LANE_HEIGHT;
    parts.push(
      `<text x="4" y="${y + 24}" class="lane" data-lane="${escapeHtml(lane.actor)}">${escapeHtml(`${lane.actor} (pid ${lane.pid})`)}</text>`,
    );
    parts.push(
      `<line x1="${LABEL_WIDTH}" x2="${LABEL_WIDTH + PLOT_WIDTH}" y1="${y + LANE_HEIGHT}" y2="${y + LANE_HEIGHT}" class="grid"/>`,
    );
    for (const held of heldBy(lane, steps, end, strategy)) {
      const kind = lane.actor === 'owner' ? 'owner' : 'reader';
      const title = `${lane.actor} (pid ${lane.pid}) holds ${held.what}, ${held.from.toFixed(1)} to ${held.to.toFixed(1)} ms`;
      parts.push(
        `<rect x="${x(held.from)}" y="${y + 2}" width="${Math.max(1, x(held.to) - x(held.from))}" height="${LANE_HEIGHT - 4}" class="held ${kind}"><title>${escapeHtml(title)}</title></rect>`,
      );
      // Named inside its band when it fits; the legend and the tooltip say it otherwise.
      if (x(held.to) - x(held.from) >= held.what.length * HELD_CHAR_WIDTH + 6) {
        parts.push(
          `<text x="${x(held.from) + 3}" y="${y + LANE_HEIGHT - 5}" class="heldlabel">${escapeHtml(held.what)}</text>`,
        );
      }
    }
    lane.steps.forEach((step, k) => {
      const barY = y + 7;
      const left = x(step.start);
      const width = Math.max(3, x(step.end) - left);
      const title = `${label(step)} — ${step.ok ? 'ok' : `${step.outcome === 'info' ? 'INFO' : 'ERROR'}: ${step.error ?? ''}`} — ${(step.end - step.start).toFixed(2)} ms`;
      parts.push(
        `<rect x="${left}" y="${barY}" width="${width}" height="18" class="${stepClass(step, failing)}" data-step="${step.index}"><title>${escapeHtml(title)}</title></rect>`,
      );
      const text = `#${step.index} ${step.op}`;
      const needed = text.length * CHAR_WIDTH + 6;
      if (width >= needed) {
        parts.push(`<text x="${left + 3}" y="${barY + 13}" class="barlabel">${escapeHtml(text)}</text>`);
      } else {
        // Too short to hold its label: put it right of the bar, as much as fits before the next one.
        const next = lane.steps[k + 1];
        const room =
          (next === undefined ? LABEL_WIDTH + PLOT_WIDTH + 60 : x(next.start)) - (left + width) - 4;
        const short = `#${step.index}`;
        const shown = room >= needed ? text : room >= short.length * CHAR_WIDTH + 2 ? short : undefined;
        // With no room even for its number, the bar keeps its tooltip and its row in the table.
        if (shown !== undefined) {
          parts.push(
            `<text x="${left + width + 2}" y="${barY + 13}" class="outlabel" data-step="${step.index}">${escapeHtml(shown)}</text>`,
          );
        }
      }
    });
  });
  const width = LABEL_WIDTH + PLOT_WIDTH + 70;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}">${parts.join('')}</svg>`;
}

function table(steps: readonly StepEvent[], failing?: number): string {
  const rows = steps.map(
    (s) =>
      `<tr class="${s.ok ? '' : 'err'}${s.index === failing ? ' failing' : ''}"><td>${s.index}</td><td>${escapeHtml(s.actor)}</td><td>${s.pid}</td><td>${escapeHtml(label(s))}</td><td>${s.start.toFixed(2)}</td><td>${(s.end - s.start).toFixed(2)}</td><td>${s.ok ? 'ok' : escapeHtml(s.error ?? 'error')}</td></tr>`,
  );
  return `<table><tr><th>#</th><th>actor</th><th>pid</th><th>step</th><th>start ms</th><th>ms</th><th>outcome</th></tr>${rows.join('')}</table>`;
}

export interface TimelineSection {
  readonly title: string;
  readonly steps: readonly StepEvent[];
  /** Index of the step that failed the run (a search that broke the contract is `ok` itself). */
  readonly failing?: number;
  /** Every process the run had (see RunActor). */
  readonly actors?: readonly RunActor[];
}

/** The whole page: a heading, the error, and a timeline plus a table for each section. */
export function timelineHtml(
  heading: string,
  error: string,
  sections: readonly TimelineSection[],
  strategy?: string,
): string {
  const body = sections
    .map((section) => {
      const failing = section.failing ?? [...section.steps].reverse().find((s) => !s.ok)?.index;
      const svg = timelineSvg(section.steps, {
        ...(failing === undefined ? {} : { failing }),
        ...(section.actors === undefined ? {} : { actors: section.actors }),
        ...(strategy === undefined ? {} : { strategy }),
      });
      return `<h2>${escapeHtml(section.title)} (${plural(section.steps.length, 'step')})</h2>${svg}${table(section.steps, failing)}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(heading)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 20px; color: #222; }
.error { background: #fee; border-left: 4px solid #c00; padding: 8px; white-space: pre-wrap; font-family: monospace; }
.lane { font: 12px monospace; } .tick { font: 11px monospace; fill: #666; } .grid { stroke: #ddd; }
.legend { font: 12px system-ui, sans-serif; fill: #222; }
.bar.ok { fill: #4a90d9; } .bar.failed { fill: #d0342c; } .bar.info { fill: #e69500; }
.bar.failing { stroke: #000; stroke-width: 3; }
.held.owner { fill: #2e9e4f; fill-opacity: 0.22; } .held.reader { fill: #8a5cc9; fill-opacity: 0.2; }
.heldlabel { font: 10px system-ui, sans-serif; fill: #555; pointer-events: none; }
.barlabel { font: 11px monospace; fill: #fff; pointer-events: none; }
.outlabel { font: 11px monospace; fill: #222; pointer-events: none; }
table { border-collapse: collapse; margin: 10px 0 30px; font: 12px monospace; }
td, th { border: 1px solid #ccc; padding: 2px 6px; text-align: left; }
tr.err td { background: #fdd; } tr.failing td { font-weight: bold; }
</style></head><body>
<h1>${escapeHtml(heading)}</h1>
<div class="error">${escapeHtml(error)}</div>
${body}
</body></html>
`;
}
