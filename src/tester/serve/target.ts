import type { FailureLog } from '../failure-record.js';
import type { StressTarget } from '../harness.js';
import type { ReachGoal } from '../reach.js';
import { DEFAULTS, type StressSettings } from '../settings.js';
import { SERVE_COMMAND_CODEC, type ServeCommand, serveCommands } from './commands.js';
import { ServeDriver, ServeRunFailure } from './driver.js';
import { TAKEOVER_BOUND_MS } from './takeover-bound.js';

/** What a passing serve suite must have reached. */
export const SERVE_GOALS: readonly ReachGoal[] = [
  { name: 'a search through a serve', reached: (r) => r.searches > 0 },
  { name: 'a requested catch-up', reached: (r) => Object.keys(r.steps).some((k) => k.endsWith('.catch-up')) },
  { name: 'an intruder kept out', reached: (r) => r.intruderRefused > 0 },
  { name: 'a serve stopped by SIGTERM', reached: (r) => (r.steps['nemesis.sigterm'] ?? 0) > 0 },
  {
    name: 'an owner stopped with a reader alive (a takeover)',
    reached: (r) => (r.steps['nemesis.takeover'] ?? 0) > 0,
  },
];

export const SERVE_FAULT_GOALS: readonly ReachGoal[] = [
  {
    name: 'an owner killed with a reader alive (a takeover)',
    reached: (r) => (r.steps['nemesis.takeover'] ?? 0) > 0,
  },
  { name: 'a serve stopped by SIGTERM', reached: (r) => (r.steps['nemesis.sigterm'] ?? 0) > 0 },
  { name: 'a serve killed by SIGKILL', reached: (r) => (r.steps['nemesis.sigkill'] ?? 0) > 0 },
];

/** What a passing serve suite must have reached, with `--faults` or without. */
export function serveGoals(options: { readonly faults?: boolean }): ReachGoal[] {
  return [...SERVE_GOALS, ...(options.faults === true ? SERVE_FAULT_GOALS : [])];
}

/** Extra `embecode serve` arguments for every serve a run starts (env STRESS_SERVE_ARGS, space-separated). */
function serveArgsFromEnv(env: NodeJS.ProcessEnv = process.env): string[] {
  const raw = env.STRESS_SERVE_ARGS?.trim();
  return raw === undefined || raw === '' ? [] : raw.split(/\s+/);
}

/** The serve target: real `embecode serve` processes on a project tree the runs change. */
export function serveTarget(
  settings: StressSettings,
  onRun: (run: number, failures: FailureLog<unknown>) => void,
): StressTarget<ServeCommand> {
  const faults = settings.faults === true;
  const driver = new ServeDriver({
    stepDeadlineMs: (settings.stepDeadlineS ?? DEFAULTS.stepDeadlineS) * 1000,
    takeoverBoundMs: TAKEOVER_BOUND_MS,
    serveArgs: serveArgsFromEnv(),
    onRun,
  });
  return {
    name: 'serve',
    driver,
    commands: serveCommands({ faults }),
    codec: SERVE_COMMAND_CODEC,
    goals: serveGoals({ faults }),
    failureCause: (error) => (error instanceof ServeRunFailure ? { cause: error.cause } : undefined),
  };
}
