/**
 * The one place that builds a kafkajs client from the config. kafkajs' own log lines go through
 * our pino logger (so redaction applies) at the level they were emitted.
 */
import { Kafka, type KafkaConfig, logLevel, type SASLOptions } from 'kafkajs';
import type { Config } from '../config/schema.js';
import { child, type Logger } from '../observability/logger.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(config: Config['kafka'], logger: Logger): Kafka {
  const kafkaLogger = child(logger, 'kafkajs');
  const sasl: SASLOptions | undefined = config.sasl && {
    mechanism: config.sasl.mechanism,
    username: config.sasl.username,
    password: config.sasl.password.reveal(),
  };
  const settings: KafkaConfig = {
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: config.ssl ?? false,
    connectionTimeout: 5_000,
    requestTimeout: 30_000,
    logLevel: logLevel.WARN,
    logCreator:
      () =>
      ({ level, log }) => {
        const { message, ...extra } = log;
        kafkaLogger[LEVELS[level] ?? 'info']({ namespace: extra.namespace, broker: extra.broker }, message);
      },
  };
  return new Kafka(sasl ? { ...settings, sasl } : settings);
}
