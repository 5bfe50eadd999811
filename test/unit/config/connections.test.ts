import { describe, expect, it } from 'vitest';
import { LOCAL_PORTS, loadConnections } from '../../../src/config/connections.js';
import { DsrCdcError } from '../../../src/errors.js';

describe('loadConnections', () => {
  it('defaults to the local stack', () => {
    const connections = loadConnections({});
    expect(connections.postgres.host).toBe('127.0.0.1');
    expect(connections.postgres.port).toBe(LOCAL_PORTS.postgres);
    expect(connections.kafka.brokers).toEqual([`127.0.0.1:${LOCAL_PORTS.kafka}`]);
    expect(connections.registry.url).toBe(`http://127.0.0.1:${LOCAL_PORTS.registry}/apis/ccompat/v7`);
    expect(connections.snowflake.accessUrl).toBe(`http://127.0.0.1:${LOCAL_PORTS.snowflake}`);
  });

  it('takes every value from its variable when set', () => {
    const connections = loadConnections({
      DSR_CDC_PG_HOST: 'db.internal',
      DSR_CDC_PG_PORT: '6543',
      DSR_CDC_KAFKA_BROKERS: 'k1:9092, k2:9092',
      DSR_CDC_SNOWFLAKE_WAREHOUSE: 'WH',
    });
    expect(connections.postgres.host).toBe('db.internal');
    expect(connections.postgres.port).toBe(6543);
    expect(connections.kafka.brokers).toEqual(['k1:9092', 'k2:9092']);
    expect(connections.snowflake.warehouse).toBe('WH');
  });

  it('names the variable of a malformed port', () => {
    let caught: unknown;
    try {
      loadConnections({ DSR_CDC_PG_PORT: 'not-a-port' });
    } catch (error) {
      caught = error;
    }
    expect(caught).toBeInstanceOf(DsrCdcError);
    expect(caught).toMatchObject({ code: 'CONFIG_INVALID', field: 'DSR_CDC_PG_PORT' });
    expect((caught as DsrCdcError).message).toMatch(/^DSR_CDC_PG_PORT: /);
  });
});

describe('loadConnections list settings', () => {
  it('names the variable of a malformed broker list', () => {
    expect(() => loadConnections({ DSR_CDC_KAFKA_BROKERS: 'k1:9092,no-port' })).toThrow(
      /^DSR_CDC_KAFKA_BROKERS: expected host:port/,
    );
  });
});
