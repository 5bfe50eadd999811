/**
 * The consumer stages by name, each a function that runs the stage until the signal aborts. A
 * stage's module, and the libraries it needs (snowflake-sdk is the heaviest), is loaded only when
 * the stage is run: `consumer run` and `dsr-cdc run` both start them through this table.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../observability/logger.js';

export type StageRun = (config: Config, logger: Logger, signal: AbortSignal) => Promise<void>;

export const CONSUMER_STAGES = {
  'pii-discovery': async (): Promise<StageRun> => (await import('./pii-discovery/index.js')).runPiiDiscovery,
  'type-coercion': async (): Promise<StageRun> => (await import('./type-coercion/index.js')).runTypeCoercion,
  'snowflake-loader': async (): Promise<StageRun> =>
    (await import('./snowflake-loader/index.js')).runSnowflakeLoader,
} as const;

export type StageName = keyof typeof CONSUMER_STAGES;
