import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../observability/logger.js';
import { createPollerComponent } from '../../sources/poller/index.js';
import { CliExit } from '../exit.js';
import type { CliCommand } from '../main.js';

/**
 * `poller sync <name> --config <file>`: one poll now, up to the poller's horizon; prints the run
 * record (JSON) and exits 0 when it succeeded, 1 when it failed (the watermark did not move past
 * anything Kafka does not hold).
 */
export const pollerSync: CliCommand = {
  group: 'poller',
  build: (context) =>
    new Command('sync')
      .description('run one poll of a poller now and print the run record')
      .argument('<name>', 'the poller, as named under `sources:` in the config')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action(async (name: string, options: { config: string }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
        const component = createPollerComponent(config, name, logger);
        try {
          const record = await component.sync();
          context.stdout(`${JSON.stringify(record, null, 2)}\n`);
          if (record.status !== 'succeeded') throw new CliExit(1);
        } finally {
          await component.close();
        }
      }),
};
