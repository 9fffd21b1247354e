#!/usr/bin/env node
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Command, CommanderError, Option } from 'commander';
import { usageError } from '../errors.js';
import { strategyNames } from '../strategies/registry.js';
import { runStress } from '../tester/harness.js';
import { decodeReplayToken } from '../tester/replay-token.js';
import { formatSummary, type StressSummary } from '../tester/report.js';
import {
  parseCount,
  parseSeconds,
  parseSeed,
  type StressSettings,
  settingsFromEnv,
} from '../tester/settings.js';
import { EXIT_FAILURE, EXIT_OK, EXIT_USAGE, runCli } from './exit.js';

/** Exit 0: the contract held; 1: a counterexample; 2: usage or set-up error. */
function exitCodeOf(summary: StressSummary): number {
  if (summary.status === 'passed') return EXIT_OK;
  return summary.status === 'failed' ? EXIT_FAILURE : EXIT_USAGE;
}

function print(summary: StressSummary, json: boolean): number {
  if (json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else (summary.status === 'passed' ? process.stdout : process.stderr).write(`${formatSummary(summary)}\n`);
  return exitCodeOf(summary);
}

interface RunFlags {
  strategy: string;
  runs?: string;
  seed?: string;
  maxCommands?: string;
  timeLimit?: string;
  json?: boolean;
}

/** Flags win over the STRESS_* environment, which wins over the defaults. */
export function settingsFromFlags(flags: RunFlags, env: NodeJS.ProcessEnv = process.env): StressSettings {
  const base = settingsFromEnv(flags.strategy, env);
  return {
    ...base,
    ...(flags.runs === undefined ? {} : { runs: parseCount(flags.runs, '--runs') }),
    ...(flags.seed === undefined ? {} : { seed: parseSeed(flags.seed, '--seed') }),
    ...(flags.maxCommands === undefined
      ? {}
      : { maxCommands: parseCount(flags.maxCommands, '--max-commands') }),
    ...(flags.timeLimit === undefined ? {} : { timeLimitS: parseSeconds(flags.timeLimit, '--time-limit') }),
  };
}

/** A replay argument is a token, or a failure directory holding `replay-token.txt`. */
export function readReplayArgument(argument: string): string {
  if (existsSync(argument) && statSync(argument).isDirectory()) {
    const file = join(argument, 'replay-token.txt');
    if (!existsSync(file))
      throw usageError(`${argument} has no replay-token.txt; pass the token or a failure directory`);
    return readFileSync(file, 'utf8').trim();
  }
  return argument;
}

async function main(argv: readonly string[]): Promise<number> {
  let code = EXIT_OK;
  const program = new Command('embecode-stress')
    .description('Property-based cross-process stress tester for embecode access strategies.')
    .exitOverride()
    .configureOutput({ writeErr: () => undefined });
  program
    .command('run')
    .description('generate command sequences and check the strategy contract')
    .addOption(
      new Option('--strategy <name>', 'access strategy').choices(strategyNames()).makeOptionMandatory(),
    )
    .option('--runs <n>', 'number of runs (env STRESS_RUNS)')
    .option('--seed <n>', 'fast-check seed (env STRESS_SEED)')
    .option('--max-commands <k>', 'longest command sequence (env STRESS_MAX_COMMANDS)')
    .option('--time-limit <s>', 'stop starting runs after S seconds (env STRESS_TIME_LIMIT_S)')
    .option('--json', 'print one JSON summary object on stdout')
    .action(async (flags: RunFlags) => {
      code = print(await runStress(settingsFromFlags(flags)), flags.json === true);
    });
  program
    .command('replay')
    .description('re-run a counterexample from its replay token or failure directory')
    .argument('<token-or-artifact>', 'replay token (es1....) or a kept failure directory')
    .option('--json', 'print one JSON summary object on stdout')
    .action(async (argument: string, flags: { json?: boolean }) => {
      const settings = decodeReplayToken(readReplayArgument(argument));
      const summary = await runStress(settings);
      code = print({ ...summary, reproduced: summary.status === 'failed' }, flags.json === true);
    });
  if (argv.length === 0) {
    throw usageError(
      'missing command; usage: embecode-stress run --strategy NAME [...] | replay TOKEN_OR_ARTIFACT',
    );
  }
  try {
    await program.parseAsync([...argv], { from: 'user' });
  } catch (error) {
    const helpShown = ['commander.helpDisplayed', 'commander.help', 'commander.version'];
    if (error instanceof CommanderError && helpShown.includes(error.code)) return EXIT_OK;
    throw error;
  }
  return code;
}

void runCli(() => main(process.argv.slice(2)), 'embecode-stress');
