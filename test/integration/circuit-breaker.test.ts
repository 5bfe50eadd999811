/**
 * The registry's circuit breaker against the real registry, reached through a TCP proxy of this
 * test's own (the shared registry is never stopped): cut the proxy and the breaker opens after
 * `consecutiveFailures` network failures, calls then fail at once without reaching the network,
 * as retryable errors (never as poison events); restore it and the next trial call closes the
 * breaker. dsr_cdc_circuit_breaker_state{system="registry"} follows every step. The same for
 * Kafka's bootstrap broker ('kafka') and for a replication source's database
 * (`postgres:<source>`), which the source then streams from.
 */
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { Kafka, logLevel } from 'kafkajs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import type { Config } from '../../src/config/schema.js';
import { createRegistry, decodeWire } from '../../src/events/registry.js';
import { connectAdmin, createProducer } from '../../src/kafka/client.js';
import { createLogger } from '../../src/observability/logger.js';
import { metrics } from '../../src/observability/metrics.js';
import { breakers } from '../../src/resilience.js';
import { runPostgresSource } from '../../src/sources/postgres/index.js';
import { CdcFixture } from '../support/cdc.js';
import { uniqueName } from '../support/names.js';
import { waitFor } from '../support/source-process.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const HALF_OPEN_AFTER_MS = 1_000;

describe('circuit breakers', () => {
  const registryUrl = new URL(loadConnections().registry.url);
  const subject = `${uniqueName('breaker')}-value`;
  let proxy: TcpProxy;

  beforeAll(async () => {
    proxy = await TcpProxy.start(registryUrl.hostname, Number(registryUrl.port));
    breakers.configure(
      { consecutiveFailures: 3, halfOpenAfterMs: HALF_OPEN_AFTER_MS },
      createLogger({ level: 'silent' }),
    );
  });

  afterAll(async () => {
    await proxy.close();
    for (const suffix of ['', '?permanent=true']) {
      await fetch(`${registryUrl.href}/subjects/${subject}${suffix}`, { method: 'DELETE' }).catch(
        () => undefined,
      );
    }
  });

  const state = async (system = 'registry') =>
    new RegExp(`dsr_cdc_circuit_breaker_state\\{system="${system}"\\} (\\d)`).exec(
      await metrics.registry.metrics(),
    )?.[1];

  it('opens while the registry is unreachable and closes when it is back', async () => {
    const url = `http://127.0.0.1:${proxy.port}${registryUrl.pathname}`;
    const registry = createRegistry({ url } as Config['registry']);
    const schema = { type: 'record', name: 'Breaker', fields: [{ name: 'a', type: 'long' }] };
    const { id } = await registry.register(
      { type: SchemaType.AVRO, schema: JSON.stringify(schema) },
      { subject },
    );
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
    // an answer ("not found") is a working registry
    await expect(registry.getLatestSchemaId(`${subject}-missing`)).rejects.toMatchObject({ status: 404 });
    expect(await state()).toBe('0');

    proxy.cut();
    for (let i = 0; i < 3; i++) {
      await expect(registry.getLatestSchemaId(subject)).rejects.toThrow(/socket hang up|ECONNRESET/);
    }
    expect(await state()).toBe('1');
    expect(breakers.states().registry).toBe('open');

    // open: calls fail at once, without a connection, as retryable errors
    const reached = proxy.refused;
    const started = Date.now();
    await expect(registry.getLatestSchemaId(subject)).rejects.toMatchObject({
      code: 'CONNECTION_FAILED',
      retryable: true,
      message: expect.stringContaining('circuit breaker is open'),
    });
    // a message whose schema is not cached yet is not poison while the registry is away
    const unknownSchema = Buffer.from([0, 0x7f, 0xff, 0xff, 0xf0, 2]);
    await expect(decodeWire(registry, unknownSchema)).rejects.toMatchObject({
      code: 'CONNECTION_FAILED',
      retryable: true,
    });
    expect(Date.now() - started).toBeLessThan(500);
    expect(proxy.refused).toBe(reached);

    proxy.restore();
    await new Promise((r) => setTimeout(r, HALF_OPEN_AFTER_MS + 100));
    expect(await registry.getLatestSchemaId(subject)).toBe(id);
    expect(breakers.states().registry).toBe('closed');
    expect(await state()).toBe('0');
  });

  it("opens the 'kafka' breaker while the bootstrap broker is unreachable and closes when it is back", async () => {
    // only the bootstrap connection goes through the proxy: after metadata, kafkajs talks to the
    // listener the broker advertises, so produce traffic is cut in the unit test instead
    const [host, port] = (loadConnections().kafka.brokers[0] as string).split(':');
    const kafkaProxy = await TcpProxy.start(host as string, Number(port));
    const kafka = new Kafka({
      brokers: [`127.0.0.1:${kafkaProxy.port}`],
      connectionTimeout: 1_000,
      retry: { retries: 1, initialRetryTime: 100, maxRetryTime: 200 },
      logLevel: logLevel.NOTHING,
    });
    try {
      kafkaProxy.cut();
      for (let i = 0; i < 3; i++) {
        await expect(createProducer(kafka).connect()).rejects.toMatchObject({
          code: 'CONNECTION_FAILED',
          retryable: true,
          message: expect.stringContaining('Kafka did not accept a producer connection: it is unreachable'),
        });
      }
      expect(await state('kafka')).toBe('1');
      expect(breakers.states().kafka).toBe('open');

      // open: connecting fails at once, without reaching the network
      const reached = kafkaProxy.refused;
      await expect(connectAdmin(kafka)).rejects.toThrow(/kafka is unavailable: its circuit breaker is open/);
      expect(kafkaProxy.refused).toBe(reached);

      kafkaProxy.restore();
      await new Promise((r) => setTimeout(r, HALF_OPEN_AFTER_MS + 100));
      const producer = createProducer(kafka);
      await producer.connect();
      await producer.disconnect();
      expect(breakers.states().kafka).toBe('closed');
      expect(await state('kafka')).toBe('0');
    } finally {
      await kafkaProxy.close();
    }
  }, 60_000);

  it('opens for a source database that is unreachable and closes when the source connects again', async () => {
    const fx = new CdcFixture();
    await fx.open();
    const c = loadConnections();
    const pgProxy = await TcpProxy.start(c.postgres.host, c.postgres.port);
    const controller = new AbortController();
    let running: Promise<void> | undefined;
    try {
      const table = await fx.table('breaker', 'id int PRIMARY KEY');
      await fx.publish();
      const config = {
        registry: { url: c.registry.url },
        kafka: { brokers: c.kafka.brokers, clientId: fx.source },
        sources: {
          [fx.source]: {
            kind: 'postgres',
            connection: {
              host: '127.0.0.1',
              port: pgProxy.port,
              database: c.postgres.database,
              user: c.postgres.user,
              password: { reveal: () => c.postgres.password },
              insecure: false,
            },
            publication: fx.publication,
            slot: fx.slot,
            tables: { include: [`public.${table}`], exclude: [] },
            snapshot: { mode: 'initial', chunkRows: 1_000 },
            heartbeatIntervalMs: 500,
            batch: { maxMessages: 100, maxBytes: 1 << 20, lingerMs: 2, maxBufferedMessages: 1_000 },
          },
        },
      } as unknown as Config;
      pgProxy.cut();
      running = runPostgresSource(config, fx.source, createLogger({ level: 'silent' }), controller.signal);
      running.catch(() => undefined);
      const system = `postgres:${fx.source}`;
      await waitFor(async () => (await state(system)) === '1', 30_000, 'the breaker did not open');
      expect(breakers.states()[system]).toBe('open');

      pgProxy.restore();
      await fx.waitStreaming(60_000);
      expect(await state(system)).toBe('0');
    } finally {
      controller.abort();
      await running;
      await pgProxy.close();
      await fx.close();
    }
  }, 120_000);
});
