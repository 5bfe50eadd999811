/**
 * The one place that builds a kafkajs client from the config. kafkajs' own log lines go through
 * our pino logger (so redaction applies) at the level they were emitted.
 */
import {
  type Admin,
  type Consumer,
  Kafka,
  type KafkaConfig,
  logLevel,
  Partitioners,
  type Producer,
  type SASLOptions,
} from 'kafkajs';
import type { Config } from '../config/schema.js';
import { kafkaSsl } from '../config/tls.js';
import { child, type Logger } from '../observability/logger.js';
import { kafkaCall } from './failures.js';

const LEVELS: Record<number, 'error' | 'warn' | 'info' | 'debug'> = {
  [logLevel.ERROR]: 'error',
  [logLevel.WARN]: 'warn',
  [logLevel.INFO]: 'info',
  [logLevel.DEBUG]: 'debug',
};

export function createKafka(config: Config['kafka'], logger: Logger): Kafka {
  const kafkaLogger = child(logger, 'kafkajs');
  if (typeof config.ssl === 'object' && config.ssl.insecure && !config.ssl.rejectUnauthorized) {
    logger.warn('kafka.ssl: certificate checks are off (insecure: true); for local use only');
  }
  const sasl: SASLOptions | undefined = config.sasl && {
    mechanism: config.sasl.mechanism,
    username: config.sasl.username,
    password: config.sasl.password.reveal(),
  };
  const settings: KafkaConfig = {
    clientId: config.clientId,
    brokers: [...config.brokers],
    ssl: kafkaSsl(config.ssl),
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

/**
 * The producer every stage uses: idempotent, one request in flight (order per partition holds
 * through retries), no topic auto-creation, and the Java client's murmur2 partitioner, so a
 * key's partition does not depend on which client produced it. Its `connect` goes through the
 * 'kafka' circuit breaker and fails with a DsrCdcError (see failures.ts).
 */
export function createProducer(kafka: Kafka): Producer {
  const producer = kafka.producer({
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  const connect = producer.connect;
  producer.connect = () => kafkaCall('accept a producer connection', connect);
  return producer;
}

/** A connected admin client; connecting goes through the 'kafka' circuit breaker (see failures.ts). */
export async function connectAdmin(kafka: Kafka): Promise<Admin> {
  const admin = kafka.admin();
  await kafkaCall('accept an admin connection', () => admin.connect());
  return admin;
}

/**
 * kafkajs stops a consumer that hits an error it will not retry, and the process would go on
 * without it; this reports such a crash so the owner can stop (and be restarted) instead.
 */
export function onFatalCrash(consumer: Consumer, fatal: (error: Error) => void): void {
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    if (!payload.restart) fatal(payload.error);
  });
}

/**
 * Consumer retry settings for every stage. A topic created moments ago can still answer
 * UNKNOWN_TOPIC_OR_PARTITION, which kafkajs treats as fatal and would stop the consumer; such a
 * consumer is restarted. Any other non-retriable error stops it (see onFatalCrash).
 */
export const CONSUMER_RETRY = {
  restartOnFailure: async (error: Error): Promise<boolean> => {
    for (let e = error as { type?: string; originalError?: unknown; cause?: unknown } | undefined; e; ) {
      if (e.type === 'UNKNOWN_TOPIC_OR_PARTITION') return true;
      e = (e.originalError ?? e.cause) as typeof e;
    }
    return false;
  },
};
