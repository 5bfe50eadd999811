import { Argument, Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { CONSUMER_STAGES, type StageName } from '../../consumers/stages.js';
import { createLogger } from '../../observability/logger.js';
import { supervise } from '../../sources/supervise.js';
import type { CliCommand } from '../main.js';
import { runUntilSignal } from '../signals.js';

/**
 * `consumer run <name> --config <file>`: runs one consumer stage until SIGTERM/SIGINT. The first
 * signal stops it cleanly (offsets are committed only for durable output, so nothing is lost); a
 * second exits at once, and the group re-reads what was not committed.
 */
export const consumerRun: CliCommand = {
  group: 'consumer',
  build: (context) =>
    new Command('run')
      .description('run a consumer stage until stopped (SIGTERM or SIGINT)')
      .addArgument(new Argument('<name>', 'the consumer stage').choices(Object.keys(CONSUMER_STAGES)))
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action(async (name: string, options: { config: string }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
        const consumer = await CONSUMER_STAGES[name as StageName]();
        // a retryable failure (Kafka, the registry or Snowflake unreachable) restarts the stage
        // after a backoff, as `dsr-cdc run` does; anything else ends the command with its error
        await runUntilSignal(logger, `stopping ${name}`, (signal) =>
          supervise(() => consumer(config, logger, signal), logger, signal),
        );
      }),
};
