import type { SchemaRegistry } from '@kafkajs/confluent-schema-registry';
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../src/errors.js';
import { avroTypeOptions } from '../../../src/events/pg-types.js';
import { wireEncoder } from '../../../src/events/registry.js';

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
