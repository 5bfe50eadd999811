/**
 * The dsr-cdc command line. Each command lives in its own file under commands/ and is listed in
 * COMMANDS; a command that fails throws, and `run` turns the error into a message and an exit code:
 * 0 success, 2 a user mistake (bad arguments, CONFIG_INVALID, PREREQUISITE_MISSING), 1 anything else.
 * A command that did its work but must report another status throws CliExit (e.g. 3: a DSR result
 * that is not complete).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { type ErrorCode, isDsrCdcError } from '../errors.js';
import { auditShow, auditVerify } from './commands/audit.js';
import { configCheck } from './commands/config-check.js';
import { consumerRun } from './commands/consumer-run.js';
import { dsrResult } from './commands/dsr-result.js';
import { dsrSubmit } from './commands/dsr-submit.js';
import { pollerRun } from './commands/poller-run.js';
import { pollerSync } from './commands/poller-sync.js';
import { pollerTest } from './commands/poller-test.js';
import { replayCommand } from './commands/replay.js';
import { runCommand } from './commands/run.js';
import { sourceRun } from './commands/source-run.js';
import { CliExit } from './exit.js';

/** What commands get from the process, passed in so that tests can run the CLI in-process. */
export interface CliContext {
  env: Readonly<Record<string, string | undefined>>;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  /** stderr's stream when it is a terminal (for progress bars); absent otherwise. */
  terminal?: NodeJS.WritableStream;
}

/** Command groups (`dsr-cdc <group> <command>`), created on demand by the commands that use them. */
const GROUPS = {
  config: 'validate and inspect the pipeline config',
  source: 'run change-data-capture sources',
  poller: 'run, sync and test incremental pollers (Postgres, MySQL/MariaDB, REST)',
  consumer: 'run consumer stages (pii-discovery, type-coercion, snowflake-loader)',
  dsr: 'submit data subject requests and read their results',
  audit: 'show and verify the hash-chained DSR audit trail',
} as const;

/** One command file's export: the group it belongs to (none: top level) and how to build it. */
export interface CliCommand {
  group?: keyof typeof GROUPS;
  build(context: CliContext): Command;
}

const COMMANDS: readonly CliCommand[] = [
  runCommand,
  configCheck,
  sourceRun,
  pollerRun,
  pollerSync,
  pollerTest,
  consumerRun,
  dsrSubmit,
  dsrResult,
  auditShow,
  auditVerify,
  replayCommand,
];

const USER_MISTAKES: ReadonlySet<ErrorCode> = new Set(['CONFIG_INVALID', 'PREREQUISITE_MISSING']);

function buildProgram(context: CliContext): Command {
  const program = new Command('dsr-cdc')
    .description('Change-data-capture pipeline for privacy engineering')
    .version(packageVersion());
  for (const command of COMMANDS) {
    const parent =
      command.group === undefined
        ? program
        : (program.commands.find((c) => c.name() === command.group) ??
          program.command(command.group).description(GROUPS[command.group]));
    parent.addCommand(command.build(context));
  }
  configureTree(program, context);
  return program;
}

/** Runs the CLI on `argv` (without node and script) and returns the exit code. */
export async function run(argv: readonly string[], context: CliContext = processContext()): Promise<number> {
  try {
    await buildProgram(context).parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    // commander has already printed help, the version or its usage error.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    if (error instanceof CliExit) return error.code;
    if (isDsrCdcError(error)) {
      context.stderr(`error: ${error.message}\n`);
      return USER_MISTAKES.has(error.code) ? 2 : 1;
    }
    // Not translated where it was caught, so a bug: the stack is what fixing it needs.
    context.stderr(`internal error: ${error instanceof Error ? error.stack : String(error)}\n`);
    return 1;
  }
}

/** addCommand() does not pass settings down, so every command gets them here. */
function configureTree(command: Command, context: CliContext): void {
  command
    .exitOverride()
    .configureOutput({ writeOut: context.stdout, writeErr: context.stderr })
    .showHelpAfterError('(run with --help for usage)');
  for (const sub of command.commands) configureTree(sub, context);
}

function processContext(): CliContext {
  return {
    env: process.env,
    stdout: (text) => process.stdout.write(text),
    stderr: (text) => process.stderr.write(text),
    ...(process.stderr.isTTY ? { terminal: process.stderr } : {}),
  };
}

/** The version of the nearest package.json: the same from src/cli and from dist/src/cli. */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) return 'unknown';
    dir = parent;
  }
  return (JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { version: string }).version;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  return (
    script !== undefined && existsSync(script) && realpathSync(script) === fileURLToPath(import.meta.url)
  );
}

// Run when executed directly (`tsx src/cli/main.ts`, `node dist/src/cli/main.js`); bin/dsr-cdc.js
// and tests import this module and call run() themselves.
if (isEntryPoint()) process.exitCode = await run(process.argv.slice(2));
