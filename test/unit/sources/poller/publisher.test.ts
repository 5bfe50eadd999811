import type { Kafka } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { decide } from '../../../../src/errors.js';
import type { TableEncoder } from '../../../../src/events/contracts.js';
import { DEFAULT_BATCHING } from '../../../../src/kafka/batching-producer.js';
import { PollerPublisher } from '../../../../src/sources/poller/publisher.js';

/** What kafkajs rejects with when a broker cannot be reached (after its own retries). */
const outage = () =>
  Object.assign(new Error('Connection error: connect ECONNREFUSED 127.0.0.1:9092'), {
    name: 'KafkaJSConnectionError',
    retriable: true,
  });

/**
 * A Kafka whose producer records what it sends, in order; `fail` names the calls that reject with
 * an outage (event batches, the state topic's offsets, the topic listing).
 */
function fakeKafka(fail: { batches?: boolean; offsets?: boolean; listTopics?: boolean } = {}) {
  const log: string[] = [];
  const admin = {
    connect: async () => undefined,
    disconnect: async () => undefined,
    listTopics: async () => {
      if (fail.listTopics) throw outage();
      return ['_dsr-cdc.source-state', 'cdc.s.app.t'];
    },
    fetchTopicOffsets: async () => {
      if (fail.offsets) throw outage();
      return [{ partition: 0, low: '0', high: '0' }];
    },
  };
  const producer = {
    connect: async () => undefined,
    disconnect: async () => {
      log.push('disconnect');
    },
    sendBatch: async ({ topicMessages }: { topicMessages: { messages: unknown[] }[] }) => {
      if (fail.batches) throw outage();
      log.push(`events ${topicMessages.reduce((n, t) => n + t.messages.length, 0)}`);
    },
    send: async ({ topic, messages }: { topic: string; messages: { value: string }[] }) => {
      log.push(`state ${topic} ${messages[0]?.value}`);
    },
  };
  const kafka = { admin: () => admin, producer: () => producer } as unknown as Kafka;
  return { kafka, log };
}

/** The rejection of `promise` (undefined when it resolves, which then fails the assertion on it). */
async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => undefined,
    (error: unknown) => error,
  );
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
    const { kafka, log } = fakeKafka();
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
    const { kafka, log } = fakeKafka({ batches: true });
    const publisher = new PollerPublisher(kafka, 'poller/s', { ...DEFAULT_BATCHING, lingerMs: 1_000 });
    await publisher.open();
    await publisher.publish(encoder, change);
    const error = await rejection(publisher.commit({ 'app.t': { cursor: '5', key: ['1'] } }));
    // an outage fails the run, to be retried by the next one: it must not halt the host
    expect(error).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    expect(decide(error)).toBe('retry');
    expect(log).toEqual([]);
    expect(publisher.watermark('app.t')).toBeUndefined();
  });

  it('turns a Kafka outage while opening or creating topics into a retryable CONNECTION_FAILED', async () => {
    const offsets = fakeKafka({ offsets: true });
    const reading = new PollerPublisher(offsets.kafka, 'poller/s', DEFAULT_BATCHING);
    const unread = await rejection(reading.open());
    expect(unread).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    expect((unread as Error).message).toContain('read the state of poller/s');
    // not opened without its stored watermarks: the next run opens again instead of starting over
    expect(reading.opened).toBe(false);
    expect(offsets.log).toEqual(['disconnect']);

    const listing = fakeKafka({ listTopics: true });
    const creating = new PollerPublisher(listing.kafka, 'poller/s', DEFAULT_BATCHING);
    const uncreated = await rejection(creating.ensureTopics([encoder.topic]));
    expect(uncreated).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    expect(decide(uncreated)).toBe('retry');
  });
});
