import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../observability/logger.js';
import { runRuntime } from '../../runtime/index.js';
import type { CliCommand } from '../main.js';
import { runUntilSignal } from '../signals.js';

/** Grace after runtime.shutdownTimeoutMs before a process that did not end is made to exit. */
const EXIT_GRACE_MS = 1_000;

/**
 * `run --config <file> [--only source:<name> | group:<name> …]`: hosts sources and consumer groups
 * in one process (all of the config's unless --only narrows it) with the admin API, until
 * SIGTERM/SIGINT. The first signal stops intake, flushes and commits, within
 * runtime.shutdownTimeoutMs; a second exits at once. A component that fails for good stops the
 * process with exit status 1 and `component <id> failed: <reason>`.
 */
export const runCommand: CliCommand = {
  build: (context) =>
    new Command('run')
      .description('host sources and consumer groups with the admin API until stopped (SIGTERM or SIGINT)')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .option(
        '--only <component>',
        'host only this component: source:<name> or group:<name> (repeatable)',
        (value: string, previous: string[] | undefined) => [...(previous ?? []), value],
      )
      .action(async (options: { config: string; only?: string[] }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
        await runUntilSignal(
          logger,
          'stopping: intake stops, in-flight batches are flushed and positions committed',
          (signal) => runRuntime(config, logger, signal, { only: options.only ?? [] }),
          { exitAfterMs: config.runtime.shutdownTimeoutMs + EXIT_GRACE_MS },
        );
      }),
};
