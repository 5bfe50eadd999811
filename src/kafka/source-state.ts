/**
 * Durable source positions in the compacted `_dsr-cdc.source-state` topic, keyed by source id:
 * the latest record per key is the state. Written only after Kafka acknowledged the events the
 * state covers, so a restart resumes at or before — never after — what is durable.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, Producer } from 'kafkajs';
import { ensureTopics, loadTopicFamilies, topicSpec } from './topics.js';

export class SourceStateStore {
  readonly topic: string;

  constructor(
    private readonly kafka: Kafka,
    private readonly producer: Producer,
  ) {
    this.topic = topicSpec(loadTopicFamilies(), 'source-state').name;
  }

  async ensureTopic(): Promise<void> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await ensureTopics(admin, [topicSpec(loadTopicFamilies(), 'source-state')]);
    } finally {
      await admin.disconnect();
    }
  }

  /** The latest state of `sourceId`, or undefined when none was ever written (or it was cleared). */
  async read<T>(sourceId: string): Promise<T | undefined> {
    const admin = this.kafka.admin();
    await admin.connect();
    let ends: { partition: number; offset: string }[];
    try {
      ends = await admin.fetchTopicOffsets(this.topic);
    } finally {
      await admin.disconnect();
    }
    const remaining = new Map(
      ends.filter((e) => e.offset !== '0').map((e) => [e.partition, BigInt(e.offset)]),
    );
    if (remaining.size === 0) return undefined;

    // a throwaway group that commits nothing: the topic is read whole on every start
    const groupId = `dsr-cdc-state-reader-${randomUUID()}`;
    const consumer = this.kafka.consumer({ groupId, allowAutoTopicCreation: false });
    let latest: string | null | undefined;
    await consumer.connect();
    try {
      await consumer.subscribe({ topic: this.topic, fromBeginning: true });
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              if (message.key?.toString() === sourceId)
                latest = message.value ? message.value.toString() : null;
              const end = remaining.get(partition);
              if (end !== undefined && BigInt(message.offset) + 1n >= end) remaining.delete(partition);
              if (remaining.size === 0) resolve();
            },
          })
          .catch(reject);
      });
    } finally {
      await consumer.disconnect();
      const admin2 = this.kafka.admin();
      await admin2.connect();
      await admin2.deleteGroups([groupId]).catch(() => undefined);
      await admin2.disconnect();
    }
    return latest ? (JSON.parse(latest) as T) : undefined;
  }

  /** Writes the state durably (acks = -1) before resolving. */
  async write(sourceId: string, state: unknown): Promise<void> {
    await this.producer.send({
      topic: this.topic,
      acks: -1,
      messages: [
        { key: sourceId, value: JSON.stringify(state, (_, v) => (typeof v === 'bigint' ? v.toString() : v)) },
      ],
    });
  }
}
