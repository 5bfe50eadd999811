/**
 * Reads a whole topic, from the start to the end it had when called, and stops: for state kept
 * in topics (source positions, the audit trail) that a process loads once at start.
 */
import type { Kafka, KafkaMessage } from 'kafkajs';
import { readRange } from './read-range.js';

export async function readToEnd(
  kafka: Kafka,
  topic: string,
  onMessage: (message: KafkaMessage, partition: number) => void,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  let ends: { partition: number; high: string; low: string }[];
  try {
    ends = await admin.fetchTopicOffsets(topic);
  } finally {
    await admin.disconnect();
  }
  const partitions = ends.map((e) => ({ partition: e.partition, start: BigInt(e.low), end: BigInt(e.high) }));
  await readRange(kafka, [{ topic, partitions }], (_topic, partition, messages) => {
    for (const message of messages) onMessage(message, partition);
  });
}
