import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../observability/logger.js';
import { runPostgresSource } from '../../sources/postgres/index.js';
import type { CliCommand } from '../main.js';
import { runUntilSignal } from '../signals.js';

/**
 * `source run <name> --config <file>`: streams one source into Kafka until SIGTERM/SIGINT. The
 * first signal stops intake, flushes in-flight batches and acknowledges what is durable; a
 * second signal exits at once (the slot keeps everything not yet acknowledged).
 */
export const sourceRun: CliCommand = {
  group: 'source',
  build: (context) =>
    new Command('run')
      .description('stream a Postgres source into Kafka until stopped (SIGTERM or SIGINT)')
      .argument('<name>', 'the source, as named under `sources:` in the config')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action(async (name: string, options: { config: string }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
        await runUntilSignal(logger, 'stopping: flushing in-flight events', (signal) =>
          runPostgresSource(config, name, logger, signal),
        );
      }),
};
