import { Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import { createLogger } from '../../observability/logger.js';
import { createPollerComponent } from '../../sources/poller/index.js';
import { CliExit } from '../exit.js';
import type { CliCommand } from '../main.js';

/**
 * `poller test <name> --config <file>`: checks connectivity and permissions (and, for SQL pollers,
 * that every table, cursor and key column exists) without publishing anything; prints each check
 * and exits 1 when one failed.
 */
export const pollerTest: CliCommand = {
  group: 'poller',
  build: (context) =>
    new Command('test')
      .description('check a poller’s connectivity, permissions and tables without publishing')
      .argument('<name>', 'the poller, as named under `sources:` in the config')
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action(async (name: string, options: { config: string }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
        const report = await createPollerComponent(config, name, logger).test();
        for (const check of report.checks) {
          context.stdout(
            `${check.ok ? 'ok  ' : 'FAIL'} ${check.name}${check.detail ? `: ${check.detail}` : ''}\n`,
          );
        }
        if (!report.ok) throw new CliExit(1);
      }),
};
