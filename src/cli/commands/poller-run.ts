import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../observability/logger.js';
import { createPollerComponent } from '../../sources/poller/index.js';
import type { CliCommand } from '../main.js';
import { runUntilSignal } from '../signals.js';

/**
 * `poller run <name> --config <file>`: polls on the poller's cron schedule until SIGTERM/SIGINT.
 * The first signal lets a poll in progress finish its page (events acknowledged, watermark
 * stored) and stops; a second exits at once (the stored watermark is where the next run resumes).
 */
export const pollerRun: CliCommand = {
  group: 'poller',
  build: (context) =>
    new Command('run')
      .description('run a poller on its schedule until stopped (SIGTERM or SIGINT)')
      .argument('<name>', 'the poller, as named under `sources:` in the config')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action(async (name: string, options: { config: string }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
        const component = createPollerComponent(config, name, logger);
        await runUntilSignal(logger, 'stopping: finishing the poll in progress', (signal) =>
          component.run(signal),
        );
      }),
};
