/**
 * Reads exactly a range of offsets per partition and stops: the building block of `readToEnd`
 * (state topics loaded at start) and of `replay`.
 *
 * A throwaway consumer group that commits nothing (removed afterwards) is assigned the topics'
 * partitions. On every join (the first, and each one after kafkajs restarts a crashed consumer,
 * which forgets seeks and pauses) each partition still to read is sought to the next offset it
 * needs, and every other partition (finished, empty range, or not asked for) is paused, so it is
 * never fetched. The read ends when every partition has reached its end. Messages outside
 * [next, end) are never handed on (a fetch issued before a seek took effect may return some), so
 * no message is handed on twice. `onBatch` is awaited before the partition is fetched again, so a
 * slow consumer of the messages holds back the reading: memory stays bounded by the fetch sizes
 * whatever the length of the range.
 */
import { randomUUID } from 'node:crypto';
import type { Kafka, KafkaMessage } from 'kafkajs';
import { CONSUMER_RETRY } from './client.js';

export interface PartitionRange {
  partition: number;
  /** First offset to read. */
  start: bigint;
  /** First offset not to read (exclusive); `start` when the range is empty. */
  end: bigint;
}

export interface TopicRange {
  topic: string;
  partitions: PartitionRange[];
}

export interface ReadRangeOptions {
  /** Upper bound of bytes one fetch returns (all partitions); kafkajs' default is 10 MiB. */
  maxBytes?: number;
  /** Upper bound of bytes one fetch returns per partition; kafkajs' default is 1 MiB. */
  maxBytesPerPartition?: number;
}

/** The messages of one fetched batch that lie in the range, in offset order. */
export type RangeBatchHandler = (
  topic: string,
  partition: number,
  messages: KafkaMessage[],
) => Promise<void> | void;

export async function readRange(
  kafka: Kafka,
  ranges: readonly TopicRange[],
  onBatch: RangeBatchHandler,
  options: ReadRangeOptions = {},
): Promise<void> {
  /** Partitions still to read: the next offset to hand on, and the end. */
  const pending = new Map<string, { next: bigint; end: bigint }>();
  for (const { topic, partitions } of ranges) {
    for (const { partition, start, end } of partitions) {
      if (end > start) pending.set(partitionKey(topic, partition), { next: start, end });
    }
  }
  if (pending.size === 0) return;
  const topics = ranges.filter((r) => r.partitions.some((p) => p.end > p.start)).map((r) => r.topic);

  const groupId = `dsr-cdc.reader.${randomUUID()}`;
  const consumer = kafka.consumer({
    groupId,
    allowAutoTopicCreation: false,
    retry: CONSUMER_RETRY,
    ...(options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes }),
    ...(options.maxBytesPerPartition === undefined
      ? {}
      : { maxBytesPerPartition: options.maxBytesPerPartition }),
  });
  const finished = (topic: string, partition: number) => {
    pending.delete(partitionKey(topic, partition));
    consumer.pause([{ topic, partitions: [partition] }]);
  };
  // Synchronous within the join, before its first fetch: the seeks and pauses apply to it.
  consumer.on(consumer.events.GROUP_JOIN, ({ payload }) => {
    for (const [topic, partitions] of Object.entries(payload.memberAssignment)) {
      for (const partition of partitions) {
        const range = pending.get(partitionKey(topic, partition));
        if (range === undefined) consumer.pause([{ topic, partitions: [partition] }]);
        else consumer.seek({ topic, partition, offset: String(range.next) });
      }
    }
  });
  await consumer.connect();
  try {
    await consumer.subscribe({ topics, fromBeginning: true });
    await new Promise<void>((resolve, reject) => {
      consumer.on(consumer.events.CRASH, ({ payload }) => {
        if (!payload.restart) reject(payload.error);
      });
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch, heartbeat }) => {
            const range = pending.get(partitionKey(batch.topic, batch.partition));
            if (range === undefined) {
              finished(batch.topic, batch.partition);
              return;
            }
            const inRange = batch.messages.filter((m) => {
              const offset = BigInt(m.offset);
              return offset >= range.next && offset < range.end;
            });
            try {
              if (inRange.length > 0) await onBatch(batch.topic, batch.partition, inRange);
            } catch (error) {
              reject(error);
              finished(batch.topic, batch.partition);
              return;
            }
            // the last offset the batch covers (control records and compacted gaps included)
            const next = BigInt(batch.lastOffset()) + 1n;
            if (next > range.next) range.next = next;
            if (range.next >= range.end) finished(batch.topic, batch.partition);
            if (pending.size === 0) resolve();
            await heartbeat();
          },
        })
        .catch(reject);
    });
  } finally {
    await consumer.disconnect();
    const cleanup = kafka.admin();
    await cleanup.connect();
    await cleanup.deleteGroups([groupId]).catch(() => undefined);
    await cleanup.disconnect();
  }
}

function partitionKey(topic: string, partition: number): string {
  return `${topic}\0${partition}`;
}
