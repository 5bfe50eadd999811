import { Argument, Command } from 'commander';
import { loadConfig } from '../../config/load.js';
import type { Config } from '../../config/schema.js';
import { createLogger, type Logger } from '../../observability/logger.js';
import { supervise } from '../../sources/supervise.js';
import type { CliCommand } from '../main.js';
import { runUntilSignal } from '../signals.js';

type StageRun = (config: Config, logger: Logger, signal: AbortSignal) => Promise<void>;

/** The consumer stages, by the name given on the command line; each module loaded only to run it. */
const CONSUMERS: Record<string, () => Promise<StageRun>> = {
  'pii-discovery': async () => (await import('../../consumers/pii-discovery/index.js')).runPiiDiscovery,
  'type-coercion': async () => (await import('../../consumers/type-coercion/index.js')).runTypeCoercion,
  'snowflake-loader': async () =>
    (await import('../../consumers/snowflake-loader/index.js')).runSnowflakeLoader,
};

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
      .addArgument(new Argument('<name>', 'the consumer stage').choices(Object.keys(CONSUMERS)))
      .requiredOption('-c, --config <file>', 'pipeline config file (YAML)')
      .action(async (name: string, options: { config: string }) => {
        const config = loadConfig({ path: options.config, env: context.env });
        const logger = createLogger({ level: config.log.level, component: 'dsr-cdc' });
        const consumer = await (CONSUMERS[name] as (typeof CONSUMERS)[string])();
        // a retryable failure (Kafka, the registry or Snowflake unreachable) restarts the stage
        // after a backoff, as `dsr-cdc run` does; anything else ends the command with its error
        await runUntilSignal(logger, `stopping ${name}`, (signal) =>
          supervise(() => consumer(config, logger, signal), logger, signal),
        );
      }),
};
