/**
 * The dsr-cdc command line. Each command lives in its own file under commands/ and is listed in
 * COMMANDS; a command that fails throws, and `run` turns the error into a message and an exit code:
 * 0 success, 2 a user mistake (bad arguments, CONFIG_INVALID, PREREQUISITE_MISSING), 1 anything else.
 * A command that did its work but must report another status throws CliExit (e.g. 3: a DSR result
 * that is not complete).
 */
import { existsSync, readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError } from 'commander';
import { type ErrorCode, isDsrCdcError } from '../errors.js';
import { packageFile } from '../package-root.js';
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

/**
 * Every command by the words that invoke it. A command's module, and the libraries it needs, is
 * loaded only when it runs (or for help): `source run` does not carry the warehouse's or the admin
 * API's libraries in its memory.
 */
const COMMANDS: readonly { words: readonly [string, string?]; load: () => Promise<CliCommand> }[] = [
  { words: ['run'], load: async () => (await import('./commands/run.js')).runCommand },
  { words: ['config', 'check'], load: async () => (await import('./commands/config-check.js')).configCheck },
  { words: ['source', 'run'], load: async () => (await import('./commands/source-run.js')).sourceRun },
  { words: ['poller', 'run'], load: async () => (await import('./commands/poller-run.js')).pollerRun },
  { words: ['poller', 'sync'], load: async () => (await import('./commands/poller-sync.js')).pollerSync },
  { words: ['poller', 'test'], load: async () => (await import('./commands/poller-test.js')).pollerTest },
  { words: ['consumer', 'run'], load: async () => (await import('./commands/consumer-run.js')).consumerRun },
  { words: ['dsr', 'submit'], load: async () => (await import('./commands/dsr-submit.js')).dsrSubmit },
  { words: ['dsr', 'result'], load: async () => (await import('./commands/dsr-result.js')).dsrResult },
  { words: ['audit', 'show'], load: async () => (await import('./commands/audit.js')).auditShow },
  { words: ['audit', 'verify'], load: async () => (await import('./commands/audit.js')).auditVerify },
  { words: ['replay'], load: async () => (await import('./commands/replay.js')).replayCommand },
];

/** The command that argv invokes, or every command (help, a typo, a group alone). */
function commandsFor(argv: readonly string[]): typeof COMMANDS {
  const [first, second] = argv;
  const invoked = COMMANDS.filter(
    ({ words: [group, name] }) => group === first && (name === undefined || name === second),
  );
  return invoked.length === 1 ? invoked : COMMANDS;
}

const USER_MISTAKES: ReadonlySet<ErrorCode> = new Set(['CONFIG_INVALID', 'PREREQUISITE_MISSING']);

async function buildProgram(argv: readonly string[], context: CliContext): Promise<Command> {
  const program = new Command('dsr-cdc')
    .description('Change-data-capture pipeline for privacy engineering')
    .version(packageVersion());
  const commands = await Promise.all(commandsFor(argv).map(({ load }) => load()));
  for (const command of commands) {
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
    await (await buildProgram(argv, context)).parseAsync(argv, { from: 'user' });
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

/** The package's version: the same from src/cli and from dist/src/cli. */
function packageVersion(): string {
  return (JSON.parse(readFileSync(packageFile('package.json'), 'utf8')) as { version: string }).version;
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
