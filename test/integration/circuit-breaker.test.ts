/**
 * The registry's circuit breaker against the real registry, reached through a TCP proxy of this
 * test's own (the shared registry is never stopped): cut the proxy and the breaker opens after
 * `consecutiveFailures` network failures, calls then fail at once without reaching the network,
 * as retryable errors (never as poison events); restore it and the next trial call closes the
 * breaker. dsr_cdc_circuit_breaker_state{system="registry"} follows every step.
 */
import { SchemaType } from '@kafkajs/confluent-schema-registry';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConnections } from '../../src/config/connections.js';
import type { Config } from '../../src/config/schema.js';
import { createRegistry, decodeWire } from '../../src/events/registry.js';
import { createLogger } from '../../src/observability/logger.js';
import { metrics } from '../../src/observability/metrics.js';
import { breakers } from '../../src/resilience.js';
import { uniqueName } from '../support/names.js';
import { TcpProxy } from '../support/tcp-proxy.js';

const HALF_OPEN_AFTER_MS = 1_000;

describe('registry circuit breaker', () => {
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

  const state = async () =>
    /dsr_cdc_circuit_breaker_state\{system="registry"\} (\d)/.exec(await metrics.registry.metrics())?.[1];

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
});
