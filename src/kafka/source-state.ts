/**
 * Durable source positions in the compacted `_dsr-cdc.source-state` topic, keyed by source id:
 * the latest record per key is the state. Written only after Kafka acknowledged the events the
 * state covers, so a restart resumes at or before — never after — what is durable.
 */
import type { Kafka, Producer } from 'kafkajs';
import { connectAdmin } from './client.js';
import { kafkaCall } from './failures.js';
import { readToEnd } from './read-to-end.js';
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
    const admin = await connectAdmin(this.kafka);
    try {
      await ensureTopics(admin, [topicSpec(loadTopicFamilies(), 'source-state')]);
    } finally {
      await admin.disconnect();
    }
  }

  /** The latest state of `sourceId`, or undefined when none was ever written (or it was cleared). */
  async read<T>(sourceId: string): Promise<T | undefined> {
    let latest: string | null | undefined;
    await readToEnd(this.kafka, this.topic, (message) => {
      if (message.key?.toString() === sourceId) latest = message.value ? message.value.toString() : null;
    });
    return latest ? (JSON.parse(latest) as T) : undefined;
  }

  /** Writes the state durably (acks = -1) before resolving; through the 'kafka' breaker. */
  async write(sourceId: string, state: unknown): Promise<void> {
    await kafkaCall(`acknowledge the state of ${sourceId} on ${this.topic}`, () =>
      this.producer.send({
        topic: this.topic,
        acks: -1,
        messages: [
          {
            key: sourceId,
            value: JSON.stringify(state, (_, v) => (typeof v === 'bigint' ? v.toString() : v)),
          },
        ],
      }),
    );
  }
}
