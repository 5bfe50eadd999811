/**
 * The `type-coercion` consumer group: reads every `cdc.*` topic and produces each change, coerced
 * into warehouse-ready form (see plan.ts and matrix.ts), to `warehouse.<source>.<schema>.<table>`,
 * on the partition of the same number, so each key stays in order and a truncate (which the source
 * sends to every partition) reaches every warehouse partition. Offsets are committed only after
 * the batch's output is durable (acks = all). A value that cannot be coerced goes to
 * `dlq.type-coercion` with the reason (never the value) and the stream moves on.
 */
import { type SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import type { Consumer, EachBatchPayload, Kafka, Message, Producer } from 'kafkajs';
import { DsrCdcError } from '../../errors.js';
import type { ChangeEnvelope } from '../../events/envelope.js';
import { decodeWire, type WireEncoder, wireEncoder } from '../../events/registry.js';
import { connectAdmin } from '../../kafka/client.js';
import { deadLetterOrStop } from '../../kafka/dlq.js';
import { kafkaCall } from '../../kafka/failures.js';
import { PatternConsumer } from '../../kafka/pattern-consumer.js';
import { ensureTopics, type TopicFamilies, type TopicSpec, topicSpec } from '../../kafka/topics.js';
import type { Logger } from '../../observability/logger.js';
import { metrics, secondsSince } from '../../observability/metrics.js';
import type { CoercionSettings } from './matrix.js';
import { type TablePlan, tablePlan } from './plan.js';

export const STAGE = 'type-coercion';

export interface CoercionOptions {
  groupId: string;
  dlqTopic: string;
  /** Which topics to read; every `cdc.*` topic unless narrowed (tests). */
  topics?: RegExp;
  onOutOfRange: 'null' | 'dlq';
  /** Settings of a table, by `source.schema.table` of its cdc topic name. */
  settingsFor(table: string): CoercionSettings;
  topicRefreshMs?: number;
}

interface Registered {
  plan: TablePlan;
  spec: TopicSpec;
  encodeKey: WireEncoder;
  encodeValue: WireEncoder;
}

export class TypeCoercion {
  readonly name = 'consumer';
  private readonly consumer: PatternConsumer;
  private readonly plans = new Map<string, Promise<Registered>>();
  onFatal: (error: Error) => void = () => undefined;

  constructor(
    private readonly kafka: Kafka,
    private readonly registry: SchemaRegistry,
    private readonly producer: Producer,
    private readonly contractOf: (schemaId: number) => Promise<Record<string, unknown>>,
    private readonly families: TopicFamilies,
    private readonly options: CoercionOptions,
    private readonly logger: Logger,
  ) {
    this.consumer = new PatternConsumer(
      kafka,
      {
        groupId: options.groupId,
        pattern: options.topics ?? /^cdc\./,
        ...(options.topicRefreshMs === undefined ? {} : { refreshMs: options.topicRefreshMs }),
        eachBatch: (payload, consumer) => this.batch(payload, consumer),
        onFatal: (error) => this.onFatal(error),
      },
      logger,
    );
  }

  start(): Promise<void> {
    return this.consumer.start();
  }

  stop(): Promise<void> {
    return this.consumer.stop();
  }

  /** One batch, until its offset is committed (the time batchSeconds measures). */
  private async batch(payload: EachBatchPayload, consumer: Consumer): Promise<void> {
    const started = process.hrtime.bigint();
    const { topic, partition } = payload.batch;
    metrics.eventsIn.inc({ stage: STAGE, topic }, payload.batch.messages.length);
    const { next } = await this.handle(payload);
    if (next === undefined) return;
    await consumer.commitOffsets([{ topic, partition, offset: next }]);
    metrics.batchSeconds.observe({ stage: STAGE }, secondsSince(started));
  }

  /** Coerces and produces one batch; resolves with the offset to commit once its output is durable. */
  private async handle({ batch, resolveOffset, heartbeat }: EachBatchPayload): Promise<{ next?: string }> {
    const out = new Map<string, Message[]>();
    const dead: Message[] = [];
    for (const message of batch.messages) {
      try {
        if (!message.value) throw new DsrCdcError('EVENT_INVALID', 'a change event without a value');
        const { value, schemaId } = await decodeWire(this.registry, message.value);
        const keySchemaId = message.key && message.key.length >= 5 ? message.key.readInt32BE(1) : undefined;
        const target = await this.registered(batch.topic, schemaId, keySchemaId);
        const { key, row } = target.plan.coerce(value as ChangeEnvelope, this.options.onOutOfRange);
        const encoded: Message = {
          key: key === null ? null : target.encodeKey(key),
          value: target.encodeValue(row),
          partition: batch.partition % target.spec.partitions,
        };
        const messages = out.get(target.spec.name) ?? [];
        messages.push(encoded);
        out.set(target.spec.name, messages);
      } catch (error) {
        const { topic, partition } = batch;
        const poison = { topic, partition, offset: message.offset, key: message.key, value: message.value };
        dead.push(deadLetterOrStop(STAGE, poison, error, this.onFatal, this.logger));
      }
    }
    const topicMessages = [...out].map(([topic, messages]) => ({ topic, messages }));
    if (dead.length > 0) topicMessages.push({ topic: this.options.dlqTopic, messages: dead });
    if (topicMessages.length > 0)
      await kafkaCall('acknowledge warehouse events', () =>
        this.producer.sendBatch({ acks: -1, topicMessages }),
      );
    // the DLQ's events are counted by dlqEvents
    for (const [topic, messages] of out) metrics.eventsOut.inc({ topic }, messages.length);
    const last = batch.messages.at(-1);
    await heartbeat();
    if (!last) return {};
    resolveOffset(last.offset);
    return { next: String(BigInt(last.offset) + 1n) };
  }

  /** The plan and warehouse contracts for a cdc contract pair, registered and cached. */
  private registered(
    cdcTopic: string,
    valueSchemaId: number,
    keySchemaId: number | undefined,
  ): Promise<Registered> {
    const cacheKey = `${cdcTopic}/${valueSchemaId}/${keySchemaId ?? ''}`;
    let entry = this.plans.get(cacheKey);
    if (!entry) {
      entry = this.register(cdcTopic, valueSchemaId, keySchemaId);
      entry.catch(() => this.plans.delete(cacheKey));
      this.plans.set(cacheKey, entry);
    }
    return entry;
  }

  private async register(
    cdcTopic: string,
    valueSchemaId: number,
    keySchemaId: number | undefined,
  ): Promise<Registered> {
    const [, source = '', schema = '', table = ''] = cdcTopic.split('.');
    const spec = topicSpec(this.families, 'warehouse', { source, schema, table });
    const envelope = await this.contractOf(valueSchemaId);
    const keyContract = keySchemaId === undefined ? null : await this.contractOf(keySchemaId);
    const plan = tablePlan(
      spec.name,
      envelope,
      keyContract,
      this.options.settingsFor(`${source}.${schema}.${table}`),
    );
    // failures are classified (an outage retryable, an authorization refusal not) and go through
    // the kafka breaker
    const admin = await connectAdmin(this.kafka);
    try {
      await ensureTopics(admin, [spec]);
    } finally {
      await admin.disconnect();
    }
    try {
      const [key, value] = await Promise.all([
        this.registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(plan.keySchema) },
          { subject: `${spec.name}-key` },
        ),
        this.registry.register(
          { type: SchemaType.AVRO, schema: JSON.stringify(plan.valueSchema) },
          { subject: `${spec.name}-value` },
        ),
      ]);
      this.logger.info({ topic: spec.name, valueSchemaId: value.id }, 'warehouse contract registered');
      const [encodeKey, encodeValue] = await Promise.all([
        wireEncoder(this.registry, key.id),
        wireEncoder(this.registry, value.id),
      ]);
      return { plan, spec, encodeKey, encodeValue };
    } catch (error) {
      const status = (error as { status?: number }).status;
      if (status === 409 || status === 422) {
        throw new DsrCdcError(
          'CONTRACT_REJECTED',
          `the registry refused the warehouse contract of ${spec.name} (${status}): the table changed incompatibly`,
          { cause: error },
        );
      }
      throw new DsrCdcError(
        'CONNECTION_FAILED',
        `cannot register the contract of ${spec.name}: ${(error as Error).message}`,
        {
          retryable: true,
          cause: error,
        },
      );
    }
  }
}
