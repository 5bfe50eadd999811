import type { Producer, ProducerBatch } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { type BatchingOptions, BatchingProducer } from '../../../src/kafka/batching-producer.js';
import { refusedByBroker } from '../../../src/kafka/failures.js';
import { Breakers } from '../../../src/resilience.js';

/** A fake kafkajs producer whose acknowledgements the test releases by hand. */
function fakeProducer() {
  const sent: ProducerBatch[] = [];
  const pending: { resolve: () => void; reject: (e: Error) => void }[] = [];
  const producer = {
    sendBatch: (batch: ProducerBatch) =>
      new Promise((resolve, reject) => {
        sent.push(batch);
        pending.push({ resolve: () => resolve([]), reject });
      }),
  } as unknown as Producer;
  const ackNext = async () => {
    pending.shift()?.resolve();
    await new Promise((r) => setImmediate(r));
  };
  const failNext = async () => {
    pending.shift()?.reject(
      Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
        name: 'KafkaJSConnectionError',
        retriable: true,
      }),
    );
    await new Promise((r) => setImmediate(r));
  };
  return { producer, sent, ackNext, failNext, inFlight: () => pending.length };
}

/** A BatchingProducer over the fake with the given limits (and breakers of its own). */
const batching = (fake: ReturnType<typeof fakeProducer>, options: BatchingOptions) =>
  new BatchingProducer(fake.producer, options, new Breakers());

const msg = (topic: string, n: number) => ({ topic, key: Buffer.from(`k${n}`), value: Buffer.from(`v${n}`) });
const keysOf = (batch: ProducerBatch | undefined) =>
  batch?.topicMessages?.flatMap((t) => t.messages.map((m) => `${t.topic}:${String(m.key)}`));

describe('BatchingProducer', () => {
  it('sends full batches in enqueue order, one in flight, and reports durable tickets in order', async () => {
    const fake = fakeProducer();
    const producer = batching(fake, {
      maxBatchMessages: 2,
      maxBatchBytes: 1e9,
      lingerMs: 10_000,
      maxBufferedMessages: 100,
    });
    const durable: number[] = [];
    producer.onDurable((t) => durable.push(t));
    for (let n = 1; n <= 5; n++) await producer.enqueue(msg(n % 2 ? 'a' : 'b', n));

    expect(fake.inFlight()).toBe(1); // the second full batch waits for the first
    expect(keysOf(fake.sent[0])).toEqual(['a:k1', 'b:k2']);
    expect(producer.durableTicket).toBe(0);
    await fake.ackNext();
    expect(producer.durableTicket).toBe(2);
    expect(keysOf(fake.sent[1])).toEqual(['a:k3', 'b:k4']);
    await fake.ackNext();
    expect(keysOf(fake.sent[2])).toEqual(['a:k5']);
    await fake.ackNext();
    expect(durable).toEqual([2, 4, 5]);
  });

  it('sends a partial batch after the linger time', async () => {
    const fake = fakeProducer();
    const producer = batching(fake, {
      maxBatchMessages: 100,
      maxBatchBytes: 1e9,
      lingerMs: 5,
      maxBufferedMessages: 100,
    });
    await producer.enqueue(msg('a', 1));
    expect(fake.sent).toHaveLength(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.sent).toHaveLength(1);
  });

  it('makes enqueue wait while the buffer of undurable messages is full', async () => {
    const fake = fakeProducer();
    const producer = batching(fake, {
      maxBatchMessages: 2,
      maxBatchBytes: 1e9,
      lingerMs: 10_000,
      maxBufferedMessages: 2,
    });
    await producer.enqueue(msg('a', 1));
    await producer.enqueue(msg('a', 2));
    let third = false;
    const blocked = producer.enqueue(msg('a', 3)).then(() => {
      third = true;
    });
    await new Promise((r) => setTimeout(r, 20));
    expect(third).toBe(false);
    await fake.ackNext();
    await blocked;
    expect(third).toBe(true);
  });

  it('fails every later call after a batch fails, and never reports anything after it durable', async () => {
    const fake = fakeProducer();
    const producer = batching(fake, {
      maxBatchMessages: 1,
      maxBatchBytes: 1e9,
      lingerMs: 10_000,
      maxBufferedMessages: 100,
    });
    await producer.enqueue(msg('a', 1));
    await producer.enqueue(msg('a', 2));
    await fake.failNext();
    expect(producer.durableTicket).toBe(0);
    await expect(producer.enqueue(msg('a', 3))).rejects.toThrow(
      /^Kafka did not acknowledge a batch of 1 messages: it is unreachable/,
    );
    await expect(producer.flush()).rejects.toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
  });

  it('flush resolves once everything enqueued is durable', async () => {
    const fake = fakeProducer();
    const producer = batching(fake, {
      maxBatchMessages: 2,
      maxBatchBytes: 1e9,
      lingerMs: 10_000,
      maxBufferedMessages: 100,
    });
    for (let n = 1; n <= 3; n++) await producer.enqueue(msg('a', n));
    const flushed = producer.flush();
    await fake.ackNext();
    await fake.ackNext();
    await flushed;
    expect(producer.durableTicket).toBe(3);
  });
});

describe('refusedByBroker', () => {
  it('names a non-retriable broker error, also when kafkajs wrapped it after its retries', () => {
    const tooLarge = Object.assign(new Error('The request included a message larger than the max'), {
      name: 'KafkaJSProtocolError',
      type: 'MESSAGE_TOO_LARGE',
      retriable: false,
    });
    const wrapped = Object.assign(new Error('retries exceeded'), {
      name: 'KafkaJSNumberOfRetriesExceeded',
      originalError: tooLarge,
    });
    expect(refusedByBroker(tooLarge)).toBe('MESSAGE_TOO_LARGE');
    expect(refusedByBroker(wrapped)).toBe('MESSAGE_TOO_LARGE');
  });

  it('leaves connection problems and retriable broker errors to the retry policy', () => {
    const leaderMoved = Object.assign(new Error('not leader'), {
      name: 'KafkaJSProtocolError',
      type: 'NOT_LEADER_FOR_PARTITION',
      retriable: true,
    });
    const connection = Object.assign(new Error('Connection error: ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
    });
    expect(refusedByBroker(leaderMoved)).toBeUndefined();
    expect(
      refusedByBroker(Object.assign(new Error('gave up'), { originalError: connection })),
    ).toBeUndefined();
  });

  it('turns a refused batch into a non-retryable error that says what to change', async () => {
    const producer = {
      sendBatch: async () => {
        throw Object.assign(new Error('too large'), {
          name: 'KafkaJSProtocolError',
          type: 'MESSAGE_TOO_LARGE',
          retriable: false,
        });
      },
    } as unknown as Producer;
    const batching = new BatchingProducer(producer, {
      maxBatchMessages: 1,
      maxBatchBytes: 1e9,
      lingerMs: 0,
      maxBufferedMessages: 10,
    });
    await batching.enqueue(msg('a', 1));
    await expect(batching.flush()).rejects.toMatchObject({
      code: 'REQUEST_REJECTED',
      retryable: false,
      message: expect.stringContaining('raise max.message.bytes'),
    });
  });
});

describe('BatchingProducer batch limits', () => {
  it('sends what piled up during a request in batches of at most maxBatchMessages', async () => {
    const fake = fakeProducer();
    const producer = batching(fake, {
      maxBatchMessages: 3,
      maxBatchBytes: 1e9,
      lingerMs: 10_000,
      maxBufferedMessages: 100,
    });
    for (let n = 1; n <= 9; n++) await producer.enqueue(msg('a', n)); // 1-3 go out, 4-9 pile up
    expect(keysOf(fake.sent[0])).toEqual(['a:k1', 'a:k2', 'a:k3']);
    await fake.ackNext();
    expect(producer.durableTicket).toBe(3);
    expect(keysOf(fake.sent[1])).toEqual(['a:k4', 'a:k5', 'a:k6']);
    await fake.ackNext();
    expect(producer.durableTicket).toBe(6);
    await fake.ackNext();
    expect(producer.durableTicket).toBe(9);
    expect(fake.sent).toHaveLength(3);
  });

  it('keeps a request within maxBatchBytes (a single larger message still goes alone)', async () => {
    const fake = fakeProducer();
    const producer = batching(fake, {
      maxBatchMessages: 100,
      maxBatchBytes: 10,
      lingerMs: 10_000,
      maxBufferedMessages: 100,
    });
    // each message is 4 bytes ('kN' + 'vN'): the third reaches the limit and sends two of them
    for (let n = 1; n <= 3; n++) await producer.enqueue(msg('a', n));
    expect(keysOf(fake.sent[0])).toEqual(['a:k1', 'a:k2']);
    await producer.enqueue({ topic: 'a', key: Buffer.alloc(20), value: null });
    await fake.ackNext();
    expect(keysOf(fake.sent[1])).toEqual(['a:k3']);
    await fake.ackNext();
    expect(fake.sent[2]?.topicMessages?.[0]?.messages).toHaveLength(1);
    await fake.ackNext();
    expect(producer.durableTicket).toBe(4);
  });
});
