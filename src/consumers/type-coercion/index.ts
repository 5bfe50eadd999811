/**
 * Wiring of the type-coercion stage from the validated config: the only place that turns the
 * config into its options. Any number of processes may run it: Kafka splits the partitions.
 */
import type { Config } from '../../config/schema.js';
import { contractById, createRegistry } from '../../events/registry.js';
import { createKafka, createProducer } from '../../kafka/client.js';
import { dlqTopic } from '../../kafka/dlq.js';
import { loadTopicFamilies } from '../../kafka/topics.js';
import { child, type Logger } from '../../observability/logger.js';
import { runStage, topicsPart } from '../stage.js';
import { type CoercionOptions, STAGE, TypeCoercion } from './coercion.js';
import type { CoercionSettings, TimestampSource } from './matrix.js';

export function coercionOptions(config: Config, dlq: string): CoercionOptions {
  const coercion = config.warehouse?.coercion ?? {
    topics: '^cdc\\.',
    onOutOfRange: 'null',
    unconstrainedNumericScale: 9,
    columns: {},
  };
  return {
    groupId: `${config.pipeline.name}.${STAGE}`,
    dlqTopic: dlq,
    topics: new RegExp(coercion.topics),
    onOutOfRange: coercion.onOutOfRange,
    settingsFor: (table) => settingsFor(table, coercion),
  };
}

/** The overrides of one table (`source.schema.table`), by column name. */
function settingsFor(
  table: string,
  coercion: { unconstrainedNumericScale: number; columns: Readonly<Record<string, TimestampSource>> },
): CoercionSettings {
  const prefix = `${table}.`;
  const columns = Object.fromEntries(
    Object.entries(coercion.columns)
      .filter(([key]) => key.startsWith(prefix))
      .map(([key, source]) => [key.slice(prefix.length), source]),
  );
  return { unconstrainedNumericScale: coercion.unconstrainedNumericScale, columns };
}

export async function runTypeCoercion(config: Config, logger: Logger, signal: AbortSignal): Promise<void> {
  const log = child(logger, STAGE);
  const families = loadTopicFamilies();
  const dlq = dlqTopic(families, STAGE);
  const kafka = createKafka(config.kafka, log);
  const producer = createProducer(kafka);
  const coercion = new TypeCoercion(
    kafka,
    createRegistry(config.registry),
    producer,
    contractById(config.registry),
    families,
    coercionOptions(config, dlq.name),
    log,
  );
  await runStage(
    STAGE,
    [
      topicsPart(kafka, [dlq]),
      { name: 'producer', start: () => producer.connect(), stop: () => producer.disconnect() },
      coercion,
    ],
    log,
    signal,
  );
}
