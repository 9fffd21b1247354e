import { usageError } from '../errors.js';
import { type CommandKind, type CommandMix, dropFromJson, mixFromJson } from './commands/swarm.js';
import type { StressSettings } from './settings.js';

/**
 * A replay token is everything needed to re-run one counterexample, in one copy-pasteable word:
 * `es1.` + base64url(JSON). The version prefix lets a later tester refuse a token it cannot
 * honour instead of replaying something else.
 */
export const TOKEN_PREFIX = 'es1.';

interface TokenBody {
  readonly v: 1;
  readonly strategy: string;
  /** Present only for the serve target. */
  readonly target?: 'serve';
  readonly seed: number;
  readonly path: string;
  readonly replayPath: string;
  readonly maxCommands: number;
  /** Present (true) only for runs with faults: the command set differs. */
  readonly faults?: boolean;
  /** Reader processes, when not the default: the command set depends on it. */
  readonly readers?: number;
  readonly stepDeadlineS?: number;
  /**
   * The command mix the failing run drew, when it was a swarm run. Absent: every kind at its
   * default weight (`--no-swarm`), which is also what every token from before swarm means.
   */
  readonly mix?: CommandMix;
  /** Command kinds the generator left out (`--drop-kinds`). */
  readonly drop?: readonly CommandKind[];
  /** The minimal commands themselves (see commands/serialize.ts); replayed instead of the path. */
  readonly commands?: readonly unknown[];
}

export function encodeReplayToken(settings: StressSettings & { path: string; replayPath: string }): string {
  const body: TokenBody = {
    v: 1,
    strategy: settings.strategy,
    ...(settings.target === 'serve' ? { target: 'serve' as const } : {}),
    seed: settings.seed,
    path: settings.path,
    replayPath: settings.replayPath,
    maxCommands: settings.maxCommands,
    ...(settings.faults === true ? { faults: true } : {}),
    ...(settings.readers === undefined ? {} : { readers: settings.readers }),
    ...(settings.stepDeadlineS === undefined ? {} : { stepDeadlineS: settings.stepDeadlineS }),
    ...(settings.swarm !== false && settings.mix !== undefined ? { mix: settings.mix } : {}),
    ...(settings.drop === undefined || settings.drop.length === 0 ? {} : { drop: settings.drop }),
    ...(settings.commands === undefined ? {} : { commands: settings.commands }),
  };
  return TOKEN_PREFIX + Buffer.from(JSON.stringify(body)).toString('base64url');
}

/** A short piece of user input for a one-line message: control characters escaped, length bounded. */
function quoted(text: string): string {
  return text.slice(0, 20).replace(/[\p{Cc}\u2028\u2029]/gu, (c) => JSON.stringify(c).slice(1, -1));
}

export function decodeReplayToken(token: string): StressSettings & { path: string; replayPath: string } {
  const trimmed = token.trim();
  if (!trimmed.startsWith('es'))
    throw usageError(`'${quoted(trimmed)}' is not a replay token (they start with ${TOKEN_PREFIX})`);
  if (!trimmed.startsWith(TOKEN_PREFIX)) {
    throw usageError(
      `replay token version '${quoted(trimmed.split('.')[0] ?? '')}' is not supported by this embecode-stress (${TOKEN_PREFIX})`,
    );
  }
  let body: Partial<TokenBody> | null;
  try {
    body = JSON.parse(
      Buffer.from(trimmed.slice(TOKEN_PREFIX.length), 'base64url').toString('utf8'),
    ) as Partial<TokenBody> | null;
  } catch {
    throw usageError('replay token is damaged (truncated or edited?); copy the whole token from the report');
  }
  if (
    typeof body !== 'object' ||
    body === null ||
    body.v !== 1 ||
    typeof body.strategy !== 'string' ||
    typeof body.seed !== 'number' ||
    !Number.isSafeInteger(body.seed) ||
    typeof body.path !== 'string' ||
    typeof body.replayPath !== 'string' ||
    typeof body.maxCommands !== 'number' ||
    !Number.isSafeInteger(body.maxCommands) ||
    body.maxCommands < 1 ||
    (body.faults !== undefined && typeof body.faults !== 'boolean') ||
    (body.target !== undefined && body.target !== 'serve') ||
    (body.readers !== undefined && (!Number.isSafeInteger(body.readers) || body.readers < 1)) ||
    (body.stepDeadlineS !== undefined &&
      (typeof body.stepDeadlineS !== 'number' || !(body.stepDeadlineS > 0)))
  ) {
    throw usageError(
      'replay token is damaged (fields missing or wrong); copy the whole token from the report',
    );
  }
  const mix = mixFromJson(body.mix, 'replay token');
  const drop = dropFromJson(body.drop, 'replay token');
  return {
    strategy: body.strategy,
    ...(body.target === 'serve' ? { target: 'serve' as const } : {}),
    seed: body.seed,
    path: body.path,
    replayPath: body.replayPath,
    maxCommands: body.maxCommands,
    ...(body.faults === true ? { faults: true } : {}),
    ...(body.readers === undefined ? {} : { readers: body.readers }),
    ...(body.stepDeadlineS === undefined ? {} : { stepDeadlineS: body.stepDeadlineS }),
    // No mix: a run without swarm, or a token from before swarm; both mean the default generator.
    ...(mix === undefined ? { swarm: false } : { swarm: true, mix }),
    ...(drop === undefined ? {} : { drop }),
    ...(body.commands === undefined ? {} : { commands: body.commands }),
    runs: 1,
  };
}
