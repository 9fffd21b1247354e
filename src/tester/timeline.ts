import type { StepEvent } from './history.js';

/**
 * A self-contained HTML timeline of a run: one lane per process, one bar per step from its start
 * to its end, failed steps red and the step that failed the run outlined. Plain SVG, no script,
 * so it opens anywhere, offline.
 */

const LANE_HEIGHT = 34;
const LABEL_WIDTH = 190;
const PLOT_WIDTH = 900;
const AXIS_HEIGHT = 28;

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

function laneOf(step: StepEvent): string {
  return `${step.actor} (pid ${step.pid})`;
}

function label(step: StepEvent): string {
  const args = Object.entries(step.args)
    .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join(', ');
  return `#${step.index} ${step.actor}.${step.op}(${args})`;
}

/** One SVG for one history; `failing` is the index of the step that failed the run, if any. */
export function timelineSvg(steps: readonly StepEvent[], failing?: number): string {
  const lanes = [...new Set(steps.map(laneOf))];
  const start = Math.min(...steps.map((s) => s.start), 0);
  const end = Math.max(...steps.map((s) => s.end), start + 1);
  const x = (t: number) => LABEL_WIDTH + ((t - start) / (end - start)) * PLOT_WIDTH;
  const height = AXIS_HEIGHT + lanes.length * LANE_HEIGHT + 10;
  const parts: string[] = [];
  lanes.forEach((lane, i) => {
    const y = AXIS_HEIGHT + i * LANE_HEIGHT;
    parts.push(`<text x="4" y="${y + 21}" class="lane">${escapeHtml(lane)}</text>`);
    parts.push(
      `<line x1="${LABEL_WIDTH}" x2="${LABEL_WIDTH + PLOT_WIDTH}" y1="${y + LANE_HEIGHT}" y2="${y + LANE_HEIGHT}" class="grid"/>`,
    );
  });
  for (let tick = 0; tick <= 4; tick++) {
    const t = start + ((end - start) * tick) / 4;
    parts.push(`<text x="${x(t)}" y="14" class="tick">${(t - start).toFixed(1)} ms</text>`);
  }
  for (const step of steps) {
    const lane = lanes.indexOf(laneOf(step));
    const y = AXIS_HEIGHT + lane * LANE_HEIGHT + 6;
    const width = Math.max(2, x(step.end) - x(step.start));
    const classes = ['bar', step.ok ? 'ok' : 'failed', step.index === failing ? 'failing' : '']
      .join(' ')
      .trim();
    const title = `${label(step)} — ${step.ok ? 'ok' : `ERROR: ${step.error ?? ''}`} — ${(step.end - step.start).toFixed(2)} ms`;
    parts.push(
      `<rect x="${x(step.start)}" y="${y}" width="${width}" height="${LANE_HEIGHT - 12}" class="${classes}" data-step="${step.index}"><title>${escapeHtml(title)}</title></rect>`,
    );
    if (width > 60) {
      parts.push(
        `<text x="${x(step.start) + 3}" y="${y + 15}" class="barlabel">${escapeHtml(step.op)}</text>`,
      );
    }
  }
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
}

/** The whole page: a heading, the error, and a timeline plus a table for each section. */
export function timelineHtml(heading: string, error: string, sections: readonly TimelineSection[]): string {
  const body = sections
    .map((section) => {
      const failing = section.failing ?? [...section.steps].reverse().find((s) => !s.ok)?.index;
      return `<h2>${escapeHtml(section.title)} (${section.steps.length} steps)</h2>${timelineSvg(section.steps, failing)}${table(section.steps, failing)}`;
    })
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${escapeHtml(heading)}</title>
<style>
body { font: 14px system-ui, sans-serif; margin: 20px; color: #222; }
.error { background: #fee; border-left: 4px solid #c00; padding: 8px; white-space: pre-wrap; font-family: monospace; }
.lane { font: 12px monospace; } .tick { font: 11px monospace; fill: #666; } .grid { stroke: #ddd; }
.bar.ok { fill: #4a90d9; } .bar.failed { fill: #d0342c; } .bar.failing { stroke: #000; stroke-width: 3; }
.barlabel { font: 11px monospace; fill: #fff; pointer-events: none; }
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
