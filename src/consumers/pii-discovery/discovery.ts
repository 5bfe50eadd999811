/**
 * The `pii-discovery` consumer group: reads every `cdc.*` topic (a pattern subscription, so new
 * tables are picked up), turns each change into subject-index records and produces them to the
 * compacted `dsr.subject-index`. Offsets are committed only after the records of a batch are
 * durable (acks = all); a poison event goes to `dlq.pii-discovery` and the stream moves on.
 *
 * Two processes of the group split the partitions; each keeps the whole index in view (see
 * IndexView) and catches up with it after every rebalance before it diffs a location.
 */
import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { isDsrCdcError } from '../../errors.js';
import type { ChangeEnvelope, ForeignKey } from '../../events/envelope.js';
import { decodeWire } from '../../events/registry.js';
import { deadLetter } from '../../kafka/dlq.js';
import { kafkaCall } from '../../kafka/failures.js';
import { PatternConsumer } from '../../kafka/pattern-consumer.js';
import type { Logger } from '../../observability/logger.js';
import { metrics, secondsSince } from '../../observability/metrics.js';
import { type DiscoveryContext, discover } from './discover.js';
import type { IndexView } from './index-view.js';

export const CDC_TOPICS = /^cdc\./;

export interface DiscoveryOptions {
  groupId: string;
  /** The change topics to read; every `cdc.*` topic unless narrowed. */
  topics?: RegExp;
  indexTopic: string;
  dlqTopic: string;
  /** How often the pattern subscription looks for new `cdc.*` topics. */
  topicRefreshMs?: number;
}

export class Discovery {
  private consumer: PatternConsumer | undefined;
  /** Called when kafkajs gives up on the consumer. */
  onFatal: (error: Error) => void = () => undefined;
  private rebalanced = true;

  constructor(
    private readonly kafka: Kafka,
    private readonly registry: SchemaRegistry,
    private readonly producer: Producer,
    private readonly view: IndexView,
    private readonly context: DiscoveryContext,
    private readonly options: DiscoveryOptions,
    private readonly logger: Logger,
    /** The foreign keys a value contract declares (see foreignKeysByContract). */
    private readonly foreignKeysOf: (schemaId: number) => Promise<readonly ForeignKey[]> = async () => [],
  ) {}

  async start(): Promise<void> {
    this.consumer = new PatternConsumer(
      this.kafka,
      {
        groupId: this.options.groupId,
        pattern: this.options.topics ?? CDC_TOPICS,
        ...(this.options.topicRefreshMs === undefined ? {} : { refreshMs: this.options.topicRefreshMs }),
        eachBatch: (payload, consumer) => this.handle(payload, consumer),
        onAssignment: () => {
          this.rebalanced = true;
        },
        onFatal: (error) => this.onFatal(error),
      },
      this.logger,
    );
    await this.consumer.start();
  }

  /** One batch: index records and dead letters durable first, then the offset committed. */
  private async handle(
    { batch, resolveOffset, heartbeat }: EachBatchPayload,
    consumer: Consumer,
  ): Promise<void> {
    if (this.rebalanced) {
      this.rebalanced = false;
      await this.view.waitCaughtUp(60_000);
    }
    const started = process.hrtime.bigint();
    const { groupId } = this.options;
    metrics.eventsIn.inc({ stage: 'pii-discovery', topic: batch.topic }, batch.messages.length);
    const records: Message[] = [];
    const dead: Message[] = [];
    for (const message of batch.messages) {
      try {
        const key = message.key ? ((await this.decode(message.key)) as Record<string, unknown>) : null;
        const value = message.value as Buffer;
        const envelope = (await this.decode(value)) as ChangeEnvelope;
        const foreignKeys = await this.foreignKeysOf(value.readInt32BE(1));
        for (const record of discover(this.view.index, { key, envelope, foreignKeys }, this.context)) {
          const serialized = record.value ? JSON.stringify(record.value) : null;
          this.view.applyOwn(record, serialized);
          records.push({ key: record.key, value: serialized });
        }
      } catch (error) {
        if (isDsrCdcError(error) && error.retryable) {
          // the registry was unreachable: the event is fine and must not be parked in the DLQ.
          // Records of this batch are already in memory, so rather than retry the batch the
          // stage stops and is restarted to rebuild from the topic
          this.onFatal(error);
          throw error;
        }
        const { topic, partition } = batch;
        dead.push(
          deadLetter(
            'pii-discovery',
            { topic, partition, offset: message.offset, key: message.key, value: message.value },
            error,
          ),
        );
        this.logger.warn({ topic, partition, offset: message.offset }, 'poison event sent to the DLQ');
      }
    }
    const topicMessages = [
      ...(records.length > 0 ? [{ topic: this.options.indexTopic, messages: records }] : []),
      ...(dead.length > 0 ? [{ topic: this.options.dlqTopic, messages: dead }] : []),
    ];
    if (topicMessages.length > 0) {
      await kafkaCall('acknowledge index records', () =>
        this.producer.sendBatch({ acks: -1, topicMessages }),
      ).catch((error: unknown) => {
        // the in-memory index already holds these records: retrying the batch would diff
        // against writes that never happened, so the process stops and rebuilds from the topic
        this.onFatal(error as Error);
        throw error;
      });
    }
    const last = batch.messages.at(-1);
    if (last) {
      resolveOffset(last.offset);
      // the batch's index records are durable: only now may the group move past it
      const offset = String(BigInt(last.offset) + 1n);
      await consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset }]);
    }
    metrics.eventsOut.inc({ topic: this.options.indexTopic }, records.length);
    metrics.batchSeconds.observe({ stage: 'pii-discovery' }, secondsSince(started));
    metrics.consumerLag.set(
      { group: groupId, topic: batch.topic, partition: String(batch.partition) },
      Number(batch.offsetLag()),
    );
    await heartbeat();
  }

  /** Poison (EVENT_INVALID) or a registry that cannot be reached (retryable): see decodeWire. */
  private async decode(bytes: Buffer): Promise<unknown> {
    return (await decodeWire(this.registry, bytes)).value;
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}
