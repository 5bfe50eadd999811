/**
 * Wiring of the snowflake-loader stage from the validated config: the only place that turns the
 * config into its options. Any number of processes may run it: Kafka splits the partitions, and
 * the fenced offsets in Snowflake keep each change applied once.
 */
import type { Config } from '../../config/schema.js';
import { DsrCdcError } from '../../errors.js';
import { contractById, createRegistry } from '../../events/registry.js';
import { createKafka, createProducer } from '../../kafka/client.js';
import { dlqTopic } from '../../kafka/dlq.js';
import { loadTopicFamilies } from '../../kafka/topics.js';
import { child, type Logger } from '../../observability/logger.js';
import { runStage, type StagePart, topicsPart } from '../stage.js';
import { type LoaderOptions, SnowflakeLoader, STAGE } from './loader.js';
import { connectWarehouse, type SnowflakeSettings, type Warehouse } from './snowflake.js';

export function snowflakeSettings(config: Config): SnowflakeSettings {
  const settings = config.warehouse?.snowflake;
  if (!settings) {
    throw new DsrCdcError(
      'CONFIG_INVALID',
      'snowflake-loader needs the warehouse.snowflake section of the config; see dsr-cdc.example.yaml',
      { field: 'warehouse.snowflake' },
    );
  }
  return settings;
}

export function loaderOptions(config: Config, settings: SnowflakeSettings, dlq: string): LoaderOptions {
  return {
    groupId: `${config.pipeline.name}.${STAGE}`,
    dlqTopic: dlq,
    topics: new RegExp(settings.topics),
    database: settings.database,
    schema: settings.schema,
    deletes: settings.deletes,
    onDrift: settings.onDrift,
    fetch: {
      maxWaitTimeInMs: settings.batch.maxWaitMs,
      minBytes: settings.batch.minBytes,
      maxBytesPerPartition: settings.batch.maxBytes,
    },
  };
}

export async function runSnowflakeLoader(config: Config, logger: Logger, signal: AbortSignal): Promise<void> {
  const settings = snowflakeSettings(config);
  const log = child(logger, STAGE);
  const dlq = dlqTopic(loadTopicFamilies(), STAGE);
  const kafka = createKafka(config.kafka, log);
  const producer = createProducer(kafka);
  let warehouse: Warehouse | undefined;
  let loader: SnowflakeLoader | undefined;
  // the loader needs the connection, which exists only once the part before has started
  const consumer: StagePart = {
    name: 'consumer',
    start: () => {
      loader = new SnowflakeLoader(
        kafka,
        createRegistry(config.registry),
        producer,
        warehouse as Warehouse,
        contractById(config.registry),
        loaderOptions(config, settings, dlq.name),
        log,
      );
      loader.onFatal = (error) => consumer.onFatal?.(error);
      return loader.start();
    },
    stop: async () => loader?.stop(),
  };
  await runStage(
    STAGE,
    [
      topicsPart(kafka, [dlq]),
      { name: 'producer', start: () => producer.connect(), stop: () => producer.disconnect() },
      {
        name: 'snowflake',
        start: async () => {
          warehouse = await connectWarehouse(settings, (message) => log.warn(message));
        },
        stop: async () => warehouse?.destroy(),
      },
      consumer,
    ],
    log,
    signal,
  );
}
