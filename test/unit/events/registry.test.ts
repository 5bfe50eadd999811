import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../src/errors.js';
import { avroTypeOptions } from '../../../src/events/pg-types.js';
import { decodeWire, wireEncoder } from '../../../src/events/registry.js';

const SCHEMA = {
  type: 'record',
  name: 'Row',
  fields: [
    { name: 'id', type: 'long' },
    { name: 'email', type: ['null', 'string'] },
    { name: 'blob', type: ['null', 'bytes'] },
  ],
};

/** A registry that knows one schema, by id 7 (only what wireEncoder asks of it). */
function registryWith(schema: object): SchemaRegistry {
  const type = avsc.Type.forSchema(schema as avsc.Schema, avroTypeOptions());
  return { getSchema: async (id: number) => (id === 7 ? type : undefined) } as unknown as SchemaRegistry;
}

describe('wireEncoder', () => {
  it('writes the wire format: magic byte 0, the schema id, the Avro payload', async () => {
    const encode = await wireEncoder(registryWith(SCHEMA), 7);
    const value = { id: 42n, email: 'ann@example.test', blob: null };
    const bytes = encode(value);
    const type = avsc.Type.forSchema(SCHEMA as avsc.Schema, avroTypeOptions());
    expect(bytes[0]).toBe(0);
    expect(bytes.readInt32BE(1)).toBe(7);
    expect(bytes.subarray(5).equals(type.toBuffer(value))).toBe(true);
  });

  it('grows for an event larger than its scratch space, and encodes small ones after it', async () => {
    const encode = await wireEncoder(registryWith(SCHEMA), 7);
    const blob = Buffer.alloc(3 * 1024 * 1024, 0xab);
    const large = encode({ id: 1n, email: null, blob });
    const type = avsc.Type.forSchema(SCHEMA as avsc.Schema, avroTypeOptions());
    expect((type.fromBuffer(large.subarray(5)) as { blob: Buffer }).blob.equals(blob)).toBe(true);
    const small = encode({ id: 2n, email: 'b', blob: null });
    expect(type.fromBuffer(small.subarray(5))).toEqual({ id: 2n, email: 'b', blob: null });
    // each result owns its bytes: the next encode does not overwrite the last one
    expect(large.readInt32BE(1)).toBe(7);
    expect((type.fromBuffer(large.subarray(5)) as { id: bigint }).id).toBe(1n);
  });

  it('refuses a value that does not fit with EVENT_INVALID naming the field, never the value', async () => {
    const encode = await wireEncoder(registryWith(SCHEMA), 7);
    let error: unknown;
    try {
      encode({ id: 'ann@example.test', email: null, blob: null });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DsrCdcError);
    expect((error as DsrCdcError).code).toBe('EVENT_INVALID');
    expect((error as DsrCdcError).message).toContain('id');
    expect((error as DsrCdcError).message).not.toContain('ann@example.test');
  });
});

describe('decodeWire', () => {
  const wire = (id: number, payload: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, 0, id]), payload]);
  const registry = (getSchema: () => Promise<unknown>, decode: () => Promise<unknown> = async () => ({})) =>
    ({ getSchema, decode }) as unknown as SchemaRegistry;
  const failure = async (promise: Promise<unknown>) =>
    promise.then(
      () => undefined,
      (error: unknown) => error,
    );

  it('decodes with the schema the bytes name', async () => {
    const type = avsc.Type.forSchema(SCHEMA as avsc.Schema, avroTypeOptions());
    const real = registryWith(SCHEMA);
    (real as unknown as { decode: (b: Buffer) => Promise<unknown> }).decode = async (b) =>
      type.fromBuffer(b.subarray(5));
    const value = { id: 5n, email: null, blob: null };
    expect(await decodeWire(real, wire(7, type.toBuffer(value)))).toEqual({ value, schemaId: 7 });
  });

  it('asks again for a schema the registry did not know a moment ago (a just-registered id)', async () => {
    let asked = 0;
    const late = registry(
      async () => {
        asked += 1;
        if (asked < 3) throw Object.assign(new Error('Schema not found'), { status: 404 });
        return {};
      },
      async () => 'decoded',
    );
    expect(await decodeWire(late, wire(9, Buffer.from([1])))).toEqual({ value: 'decoded', schemaId: 9 });
    expect(asked).toBe(3);
  });

  it('a schema the registry does not have, or bytes that do not decode, are poison (EVENT_INVALID)', async () => {
    const missing = registry(async () =>
      Promise.reject(Object.assign(new Error('Schema not found'), { status: 404 })),
    );
    expect(await failure(decodeWire(missing, wire(9, Buffer.from([1]))))).toMatchObject({
      code: 'EVENT_INVALID',
    });
    const garbled = registry(
      async () => ({}),
      async () => Promise.reject(new RangeError('truncated buffer')),
    );
    expect(await failure(decodeWire(garbled, wire(9, Buffer.from([1]))))).toMatchObject({
      code: 'EVENT_INVALID',
    });
    expect(await failure(decodeWire(garbled, Buffer.from([1, 2, 3])))).toMatchObject({
      code: 'EVENT_INVALID',
    });
  }, 20_000);

  it('any other failure to fetch the schema is retryable, never poison (the event may be fine)', async () => {
    for (const error of [
      Object.assign(new Error('Service Unavailable'), { status: 503 }),
      new Error('the schema registry is unreachable'),
      new Error('Request aborted'),
    ]) {
      const down = registry(async () => Promise.reject(error));
      expect(await failure(decodeWire(down, wire(9, Buffer.from([1]))))).toMatchObject({
        code: 'CONNECTION_FAILED',
        retryable: true,
      });
    }
  });
});
