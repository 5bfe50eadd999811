/**
 * Smoke test of the real Kafka broker and the Apicurio registry's Confluent-compatible API,
 * through the clients the pipeline uses: kafkajs and @kafkajs/confluent-schema-registry.
 */
import { SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { type Admin, Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import { createTopicsAndWait } from '../support/kafka.js';
import { uniqueName } from '../support/names.js';

const STACK_HINT = 'is the stack up? run `npm run stack -- up`';

const personV1 = {
  type: 'record',
  name: 'Person',
  namespace: 'dev.dsrcdc.smoke',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'email', type: 'string' },
  ],
};

describe('kafka + schema registry (real broker, Apicurio ccompat API)', () => {
  const connections = loadConnections();
  const kafka = new Kafka({
    clientId: 'dsr-cdc-smoke',
    brokers: connections.kafka.brokers,
    connectionTimeout: 3_000,
    retry: { retries: 2 },
    logLevel: logLevel.NOTHING,
  });
  const registry = new SchemaRegistry({ host: connections.registry.url });
  const topic = uniqueName('smoke.people');
  const subject = `${topic}-value`;
  let admin: Admin;

  async function registryRequest(method: string, path: string, body?: unknown): Promise<Response> {
    return fetch(`${connections.registry.url}${path}`, {
      method,
      headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(5_000),
    });
  }

  beforeAll(async () => {
    const registryUp = await registryRequest('GET', '/subjects').then(
      (response) => response.ok,
      () => false,
    );
    if (!registryUp) {
      throw new Error(`cannot reach the schema registry at ${connections.registry.url}: ${STACK_HINT}`);
    }
    admin = kafka.admin();
    await admin.connect().catch((error: Error) => {
      throw new Error(`cannot reach Kafka at ${connections.kafka.brokers} (${error.message}): ${STACK_HINT}`);
    });
  });

  afterAll(async () => {
    await admin?.deleteTopics({ topics: [topic] }).catch(() => undefined);
    await admin?.disconnect();
    await registryRequest('DELETE', `/subjects/${encodeURIComponent(subject)}`).catch(() => undefined);
    await registryRequest('DELETE', `/subjects/${encodeURIComponent(subject)}?permanent=true`).catch(
      () => undefined,
    );
  });

  it('does not create topics on first use', async () => {
    const missing = uniqueName('smoke.missing');
    await expect(admin.fetchTopicMetadata({ topics: [missing] })).rejects.toThrow();
    expect(await admin.listTopics()).not.toContain(missing);
  });

  it('round-trips an Avro message registered, encoded and decoded by schema id', async () => {
    await createTopicsAndWait(admin, [{ topic, numPartitions: 3 }]);
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(personV1) },
      { subject },
    );
    const value = await registry.encode(id, { id: 7, email: 'grace@example.test' });
    // Confluent wire format: magic byte 0, then the 4-byte schema id the registry assigned
    expect(value[0]).toBe(0);
    expect(value.readInt32BE(1)).toBe(id);

    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
    await producer.connect();
    await producer.send({ topic, acks: -1, messages: [{ key: '7', value }] });
    await producer.disconnect();

    const consumer = kafka.consumer({ groupId: uniqueName('smoke-group') });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const received = new Promise<unknown>((resolve, reject) => {
      consumer
        .run({
          eachMessage: async ({ message }) => {
            if (message.value) resolve(await registry.decode(message.value));
          },
        })
        .catch(reject);
    });
    const timeout = new Promise((_, reject) =>
      setTimeout(() => reject(new Error('no message consumed within 30 s')), 30_000),
    );
    try {
      expect(await Promise.race([received, timeout])).toEqual({ id: 7, email: 'grace@example.test' });
    } finally {
      await consumer.disconnect();
    }
  });

  it('rejects a backward-incompatible schema under BACKWARD compatibility', async () => {
    await registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(personV1) }, { subject });
    const config = await registryRequest('PUT', `/config/${encodeURIComponent(subject)}`, {
      compatibility: 'BACKWARD',
    });
    expect(config.status).toBe(200);

    // a new required field without a default cannot read data written with v1
    const incompatible = {
      ...personV1,
      fields: [...personV1.fields, { name: 'phone', type: 'string' }],
    };
    await expect(
      registry.register({ type: SchemaType.AVRO, schema: JSON.stringify(incompatible) }, { subject }),
    ).rejects.toThrow(/incompatible|compatib/i);

    // the same change with a default is backward compatible and becomes a new version
    const compatible = {
      ...personV1,
      fields: [...personV1.fields, { name: 'phone', type: ['null', 'string'], default: null }],
    };
    const v2 = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(compatible) },
      { subject },
    );
    expect(await registry.getLatestSchemaId(subject)).toBe(v2.id);
  });
});
