import type { Kafka, KafkaMessage, ProducerRecord } from 'kafkajs';
import { describe, expect, it } from 'vitest';
import { awaitResult, type DsrRequestInput, submitRequest } from '../../../src/dsr/client.js';
import type { DsrResult } from '../../../src/dsr/contracts.js';
import { DsrCdcError } from '../../../src/errors.js';
import { createMetrics } from '../../../src/observability/metrics.js';
import { Breakers } from '../../../src/resilience.js';

const EMAIL = 'jane.doe@example.test';
const NOW = new Date('2025-03-01T10:00:00.000Z');

/** A producer that records what it was asked to send, or fails like an unreachable broker. */
function recordingProducer(failWith?: Error) {
  const sent: ProducerRecord[] = [];
  return {
    sent,
    send: async (record: ProducerRecord) => {
      if (failWith) throw failWith;
      sent.push(record);
      return [];
    },
  };
}

async function refused(input: unknown, options = {}) {
  const producer = recordingProducer();
  const error = await submitRequest(producer, 'dsr.requests', input as DsrRequestInput, options).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(producer.sent).toEqual([]);
  expect(error).toBeInstanceOf(DsrCdcError);
  expect((error as DsrCdcError).code).toBe('EVENT_INVALID');
  return error as DsrCdcError;
}

describe('submitRequest', () => {
  it('fills requestId and submittedAt, and produces the request keyed by its id', async () => {
    const producer = recordingProducer();
    const request = await submitRequest(
      producer,
      'dsr.requests',
      { type: 'access', identifiers: [{ type: 'email', value: EMAIL }] },
      { now: () => NOW },
    );
    expect(request.requestId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    expect(request.submittedAt).toBe(NOW.toISOString());
    expect(producer.sent).toEqual([
      {
        topic: 'dsr.requests',
        acks: -1,
        messages: [{ key: request.requestId, value: JSON.stringify(request) }],
      },
    ]);
  });

  it('keeps a given requestId and submittedAt', async () => {
    const producer = recordingProducer();
    const request = await submitRequest(producer, 'dsr.requests', {
      requestId: 'ticket-42',
      submittedAt: '2025-01-31T12:00:00Z',
      type: 'erasure',
      identifiers: [{ type: 'user_id', value: 'u-1' }],
    });
    expect(request).toMatchObject({ requestId: 'ticket-42', submittedAt: '2025-01-31T12:00:00Z' });
    expect(producer.sent[0]?.messages[0]?.key).toBe('ticket-42');
  });

  it('refuses a request that breaks the contract, listing every problem, and produces nothing', async () => {
    const error = await refused({ type: 'delete-everything', identifiers: [], extra: EMAIL });
    expect(error.message).toContain('type: expected one of "access", "erasure"');
    expect(error.message).toContain('identifiers: expected at least 1 item(s)');
    expect(error.message).toContain('extra: unknown field');
    expect(error.field).toBe('type');
    expect(error.message).not.toContain(EMAIL);
  });

  it('refuses identifiers the answerer could not search, without quoting them', async () => {
    const error = await refused({
      type: 'access',
      identifiers: [
        { type: 'email', value: EMAIL },
        { type: 'email', value: 'not-an-address' },
        { type: 'phone', value: '020 7946 0101' },
      ],
    });
    expect(error.message).toBe(
      'invalid DSR request:\n' +
        '  identifiers[1].value: expected an email address\n' +
        '  identifiers[2].value: expected a phone number, international (+<country code> …) unless dsr.defaultRegion is set',
    );
    expect(error.field).toBe('identifiers[1].value');
  });

  it('accepts a national phone number when given the region the answerer uses', async () => {
    const producer = recordingProducer();
    const input: DsrRequestInput = {
      type: 'access',
      identifiers: [{ type: 'phone', value: '020 7946 0101' }],
    };
    const request = await submitRequest(producer, 'dsr.requests', input, { detect: { defaultRegion: 'GB' } });
    // the request carries the value as given: the answerer normalises it as it normalises the index
    expect(request.identifiers).toEqual(input.identifiers);
    expect(producer.sent).toHaveLength(1);
  });

  it('refuses identifiers that are not objects (null, a string, a number) naming the item', async () => {
    for (const item of [null, EMAIL, 42]) {
      const error = await refused({ type: 'access', identifiers: [{ type: 'email', value: EMAIL }, item] });
      expect(error.field).toBe('identifiers[1]');
      expect(error.message).toMatch(/^invalid DSR request:\n {2}identifiers\[1\]: expected an object, got /);
      expect(error.message).not.toContain(EMAIL);
    }
  });

  it('reports both contract and identifier problems at once', async () => {
    const error = await refused({
      requestId: 'not ok',
      type: 'access',
      identifiers: [{ type: 'email', value: 'nope' }],
    });
    expect(error.message).toContain('requestId: expected only letters');
    expect(error.message).toContain('identifiers[0].value: expected an email address');
  });

  it("turns Kafka's outage into a retryable CONNECTION_FAILED, counted by the 'kafka' breaker", async () => {
    const outage = Object.assign(new Error('Connection error: connect ECONNREFUSED'), {
      name: 'KafkaJSConnectionError',
      retriable: true,
    });
    const producer = recordingProducer(outage);
    const breakers = new Breakers({ consecutiveFailures: 1, halfOpenAfterMs: 60_000 }, createMetrics());
    const input: DsrRequestInput = {
      requestId: 'r-1',
      type: 'access',
      identifiers: [{ type: 'email', value: EMAIL }],
    };
    const error = await submitRequest(producer, 'dsr.requests', input, { breakers }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    expect((error as Error).message).toBe(
      'Kafka did not acknowledge DSR request r-1 on dsr.requests: it is unreachable or did not answer ' +
        'in time (Connection error: connect ECONNREFUSED)',
    );
    expect(breakers.states()).toEqual({ kafka: 'open' });
  });
});

const RESULT: DsrResult = {
  requestId: 'r-1',
  type: 'access',
  status: 'complete',
  locations: [],
  consistentAsOf: { 'cdc.app.public.customers/0': '7' },
  caughtUp: true,
  answeredAt: '2025-03-01T10:00:01.000Z',
};

/** A Kafka whose one topic holds `messages`; records which consumer groups were created and deleted. */
function fakeKafka(messages: { key: string; value: string }[]) {
  const groups = { created: [] as string[], deleted: [] as string[], disconnected: 0 };
  const kafka = {
    consumer: ({ groupId }: { groupId: string }) => {
      groups.created.push(groupId);
      return {
        connect: async () => undefined,
        subscribe: async () => undefined,
        run: async ({ eachMessage }: { eachMessage: (p: { message: KafkaMessage }) => Promise<void> }) => {
          for (const { key, value } of messages) {
            await eachMessage({
              message: { key: Buffer.from(key), value: Buffer.from(value) } as KafkaMessage,
            });
          }
        },
        disconnect: async () => {
          groups.disconnected += 1;
        },
      };
    },
    admin: () => ({
      connect: async () => undefined,
      deleteGroups: async (ids: string[]) => {
        groups.deleted.push(...ids);
      },
      disconnect: async () => undefined,
    }),
  };
  return { kafka: kafka as unknown as Kafka, groups };
}

describe('awaitResult', () => {
  it("returns the request's result, skipping others, and removes its throwaway group", async () => {
    const { kafka, groups } = fakeKafka([
      { key: 'other', value: JSON.stringify({ ...RESULT, requestId: 'other' }) },
      { key: 'r-1', value: JSON.stringify(RESULT) },
    ]);
    expect(await awaitResult(kafka, 'dsr.discovery-results', 'r-1', 5_000)).toEqual(RESULT);
    expect(groups.created).toHaveLength(1);
    expect(groups.deleted).toEqual(groups.created);
    expect(groups.disconnected).toBe(1);
  });

  it('times out with a clear, retryable error', async () => {
    const { kafka, groups } = fakeKafka([{ key: 'other', value: JSON.stringify(RESULT) }]);
    const error = await awaitResult(kafka, 'dsr.discovery-results', 'r-1', 50).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'CONNECTION_FAILED', retryable: true });
    expect((error as Error).message).toBe(
      'no result for DSR request r-1 on dsr.discovery-results within 50 ms; is `dsr-cdc consumer run pii-discovery` running?',
    );
    expect(groups.deleted).toEqual(groups.created);
  });

  it('refuses a result that breaks the contract', async () => {
    const { kafka } = fakeKafka([{ key: 'r-1', value: JSON.stringify({ ...RESULT, status: 'done' }) }]);
    const error = await awaitResult(kafka, 'dsr.discovery-results', 'r-1', 5_000).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'EVENT_INVALID' });
    expect((error as Error).message).toContain('status: expected one of');
    const { kafka: garbled } = fakeKafka([{ key: 'r-1', value: '{' }]);
    await expect(awaitResult(garbled, 'dsr.discovery-results', 'r-1', 5_000)).rejects.toThrow(
      'the result of DSR request r-1 is not JSON',
    );
  });
});
