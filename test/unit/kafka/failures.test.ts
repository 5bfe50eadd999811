import type { Producer } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { BatchingProducer } from '../../../src/kafka/batching-producer.js';
import { isKafkaOutage, KAFKA_BREAKER, kafkaCall, kafkaError } from '../../../src/kafka/failures.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { Breakers } from '../../../src/resilience.js';

/** kafkajs errors as kafkajs builds them: a name, `retriable`, and the last error when it gave up. */
const kafkaJs = (name: string, fields: Record<string, unknown> = {}) =>
  Object.assign(new Error(`${name} happened`), { name, retriable: true, ...fields });
const refused = () => kafkaJs('KafkaJSProtocolError', { type: 'MESSAGE_TOO_LARGE', retriable: false });
const unreachable = () =>
  kafkaJs('KafkaJSNumberOfRetriesExceeded', {
    retriable: false,
    originalError: kafkaJs('KafkaJSConnectionError'),
  });

describe('kafkaError', () => {
  it('makes an outage (unreachable, timed out, retries exhausted) a retryable CONNECTION_FAILED', () => {
    for (const error of [
      unreachable(),
      kafkaJs('KafkaJSRequestTimeoutError'),
      kafkaJs('KafkaJSTimeout', { retriable: false }),
      kafkaJs('KafkaJSNumberOfRetriesExceeded', {
        retriable: false,
        originalError: kafkaJs('KafkaJSProtocolError', { type: 'NOT_LEADER_FOR_PARTITION' }),
      }),
    ]) {
      expect(isKafkaOutage(error)).toBe(true);
      expect(kafkaError(error, 'accept a producer connection')).toMatchObject({
        code: 'CONNECTION_FAILED',
        retryable: true,
        message: expect.stringMatching(/^Kafka did not accept a producer connection: it is unreachable/),
      });
    }
  });

  it("makes a broker's or the client's refusal for good a REQUEST_REJECTED that is not an outage", () => {
    const wrapped = kafkaJs('KafkaJSNumberOfRetriesExceeded', { retriable: false, originalError: refused() });
    for (const error of [refused(), wrapped]) {
      expect(isKafkaOutage(error)).toBe(false);
      expect(kafkaError(error, 'acknowledge a batch of 1 messages')).toMatchObject({
        code: 'REQUEST_REJECTED',
        retryable: false,
        message: expect.stringContaining('(MESSAGE_TOO_LARGE)'),
      });
    }
    const sasl = kafkaJs('KafkaJSSASLAuthenticationError', { retriable: false });
    expect(isKafkaOutage(sasl)).toBe(false);
    expect(kafkaError(sasl, 'accept a producer connection')).toMatchObject({
      code: 'REQUEST_REJECTED',
      retryable: false,
    });
  });

  it('makes an error that is not kafkajs its own an INTERNAL bug, and passes DsrCdcErrors through', () => {
    const bug = new TypeError('x is not a function');
    expect(isKafkaOutage(bug)).toBe(false);
    expect(kafkaError(bug, 'accept a producer connection')).toMatchObject({
      code: 'INTERNAL',
      retryable: false,
    });
    const translated = kafkaError(unreachable(), 'accept a producer connection');
    expect(kafkaError(translated, 'something else')).toBe(translated);
  });
});

describe("the 'kafka' circuit breaker", () => {
  const setup = () => {
    const metrics = createMetrics();
    const breakers = new Breakers({ consecutiveFailures: 2, halfOpenAfterMs: 50 }, metrics);
    const state = async () =>
      (await metrics.breakerState.get()).values.find((v) => v.labels.system === KAFKA_BREAKER)?.value;
    return { breakers, state };
  };

  it("opens after a producer's outages in a row, fails fast while open, and closes when Kafka answers again", async () => {
    const { breakers, state } = setup();
    let down = true;
    let sendBatchCalls = 0;
    const producer = {
      sendBatch: async () => {
        sendBatchCalls += 1;
        if (down) throw unreachable();
        return [];
      },
    } as unknown as Producer;
    const options = { maxBatchMessages: 1, maxBatchBytes: 1e9, lingerMs: 0, maxBufferedMessages: 10 };
    // a failed BatchingProducer stays failed (its owner restarts with a new one), as a source does
    const attempt = async () => {
      const batching = new BatchingProducer(producer, options, breakers);
      await batching.enqueue({ topic: 't', key: null, value: Buffer.from('v') });
      return batching.flush();
    };

    for (let n = 0; n < 2; n++) {
      await expect(attempt()).rejects.toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    }
    expect(breakers.states()).toEqual({ kafka: 'open' });
    expect(await state()).toBe(1);
    await expect(attempt()).rejects.toThrow(/kafka is unavailable: its circuit breaker is open/);
    expect(sendBatchCalls).toBe(2); // refused by the breaker without touching the producer

    down = false;
    await new Promise((resolve) => setTimeout(resolve, 60));
    await attempt();
    expect(breakers.states()).toEqual({ kafka: 'closed' });
    expect(await state()).toBe(0);
  });

  it("never opens on a broker's permanent refusal: a working broker answered", async () => {
    const { breakers, state } = setup();
    for (let n = 0; n < 5; n++) {
      await expect(
        kafkaCall(
          'acknowledge a batch of 1 messages',
          async () => {
            throw refused();
          },
          breakers,
        ),
      ).rejects.toMatchObject({ code: 'REQUEST_REJECTED' });
    }
    expect(breakers.states()).toEqual({ kafka: 'closed' });
    expect(await state()).toBe(0);
  });
});
