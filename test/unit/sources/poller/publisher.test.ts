import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import type { TableEncoder } from '../../../../src/events/contracts.js';
import { DEFAULT_BATCHING } from '../../../../src/kafka/batching-producer.js';
import { PollerPublisher } from '../../../../src/sources/poller/publisher.js';

/** A Kafka whose producer records what it sends, in order, and fails event batches on demand. */
function fakeKafka(failBatches: boolean) {
  const log: string[] = [];
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => ['_dsr-cdc.source-state'],
    fetchTopicOffsets: async () => [{ partition: 0, low: '0', high: '0' }],
  };
  const producer = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    sendBatch: async ({ topicMessages }: { topicMessages: { messages: unknown[] }[] }) => {
      if (failBatches) throw new Error('broker unreachable');
      log.push(`events ${topicMessages.reduce((n, t) => n + t.messages.length, 0)}`);
    },
    send: async ({ topic, messages }: { topic: string; messages: { value: string }[] }) => {
      log.push(`state ${topic} ${messages[0]?.value}`);
    },
  };
  const kafka = { admin: () => admin, producer: () => producer } as unknown as Kafka;
  return { kafka, log };
}

const encoder = {
  topic: { name: 'cdc.s.app.t', partitions: 1, config: {} },
  keySchemaId: 1,
  valueSchemaId: 2,
  encode: () => ({ key: Buffer.from('k'), value: Buffer.from('v') }),
} as TableEncoder;

const change = {
  op: 'u' as const,
  before: null,
  after: ['1'],
  lsn: null,
  commitLsn: null,
  txId: null,
  commitTs: null,
  seq: 1n,
  snapshot: false,
};

describe('PollerPublisher', () => {
  it('stores a watermark only after Kafka acknowledged every event before it', async () => {
    const { kafka, log } = fakeKafka(false);
    const publisher = new PollerPublisher(kafka, 'poller/s', { ...DEFAULT_BATCHING, lingerMs: 1_000 });
    await publisher.open();
    await publisher.publish(encoder, change);
    await publisher.publish(encoder, change);
    await publisher.commit({ 'app.t': { cursor: '5', key: ['1'] } });
    expect(log).toEqual([
      'events 2',
      'state _dsr-cdc.source-state {"tables":{"app.t":{"cursor":"5","key":["1"]}}}',
    ]);
    expect(publisher.watermark('app.t')).toEqual({ cursor: '5', key: ['1'] });
    expect(publisher.cursors).toEqual({ 'app.t': '5' });
  });

  it('leaves the watermark where it was when Kafka does not acknowledge the events', async () => {
    const { kafka, log } = fakeKafka(true);
    const publisher = new PollerPublisher(kafka, 'poller/s', { ...DEFAULT_BATCHING, lingerMs: 1_000 });
    await publisher.open();
    await publisher.publish(encoder, change);
    await expect(publisher.commit({ 'app.t': { cursor: '5', key: ['1'] } })).rejects.toThrow(
      'Kafka did not acknowledge a batch of 1 messages',
    );
    expect(log).toEqual([]);
    expect(publisher.watermark('app.t')).toBeUndefined();
  });
});
