/**
 * A consumer group over every topic matching a pattern. kafkajs resolves a pattern subscription
 * once, when it subscribes; this lists the topics every `refreshMs` and re-subscribes when the set
 * changed, so a table created later is picked up. Offsets are the handler's business (autoCommit
 * off): it commits only what its output made durable.
 */
import type { Consumer, ConsumerConfig, EachBatchPayload, Kafka } from 'kafkajs';
import type { Logger } from '../observability/logger.js';
import { CONSUMER_RETRY, onFatalCrash } from './client.js';

export interface PatternConsumerOptions {
  groupId: string;
  pattern: RegExp;
  refreshMs?: number;
  /** Fetch settings (minBytes, maxWaitTimeInMs, maxBytesPerPartition …). */
  consumer?: Omit<ConsumerConfig, 'groupId' | 'retry' | 'allowAutoTopicCreation'>;
  /** Each batch of one partition; commit with `consumer.commitOffsets` once its output is durable. */
  eachBatch(payload: EachBatchPayload, consumer: Consumer): Promise<void>;
  /** After every rebalance, before the first batch of the new assignment. */
  onAssignment?(): void;
  /** kafkajs gave up on the consumer: the owner stops (and is restarted). */
  onFatal(error: Error): void;
}

export class PatternConsumer {
  private consumer: Consumer | undefined;
  private subscribed: string[] = [];
  private watcher: NodeJS.Timeout | undefined;
  private refresh: Promise<void> = Promise.resolve();

  constructor(
    private readonly kafka: Kafka,
    private readonly options: PatternConsumerOptions,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.subscribe(await this.matchingTopics());
    this.watcher = setInterval(() => {
      this.refresh = this.refresh
        .then(async () => {
          const topics = await this.matchingTopics();
          if (topics.join() !== this.subscribed.join()) await this.subscribe(topics);
        })
        .catch((error: unknown) =>
          this.logger.warn({ reason: (error as Error).message }, 'topic refresh failed'),
        );
    }, this.options.refreshMs ?? 10_000);
  }

  async stop(): Promise<void> {
    clearInterval(this.watcher);
    await this.refresh;
    await this.consumer?.disconnect();
    this.consumer = undefined;
  }

  /** Pauses every partition of `topic` (e.g. a table stopped by the drift gate). */
  pause(topic: string): void {
    this.consumer?.pause([{ topic }]);
  }

  private async matchingTopics(): Promise<string[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return (await admin.listTopics()).filter((t) => this.options.pattern.test(t)).sort();
    } finally {
      await admin.disconnect();
    }
  }

  private async subscribe(topics: string[]): Promise<void> {
    await this.consumer?.disconnect();
    this.consumer = undefined;
    this.subscribed = topics;
    if (topics.length === 0) return;
    const consumer = this.kafka.consumer({
      ...this.options.consumer,
      groupId: this.options.groupId,
      allowAutoTopicCreation: false,
      retry: CONSUMER_RETRY,
    });
    this.consumer = consumer;
    onFatalCrash(consumer, (error) => this.options.onFatal(error));
    consumer.on(consumer.events.GROUP_JOIN, () => this.options.onAssignment?.());
    await consumer.connect();
    await consumer.subscribe({ topics, fromBeginning: true });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      eachBatch: (payload) => this.options.eachBatch(payload, consumer),
    });
  }
}
