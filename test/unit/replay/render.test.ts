import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { readableAvroTypeOptions } from '../../../src/replay/avro-text.js';
import { csvHeader, csvRows, jsonText, ndjsonLine, type ReplayRecord } from '../../../src/replay/render.js';

const record: ReplayRecord = {
  topic: 'cdc.app.public.t',
  partition: 2,
  offset: '17',
  timestamp: '2026-01-01T00:00:00.000Z',
  schemaId: 5,
  key: { id: 9007199254740993n },
  value: { op: 'u', after: { note: 'a "quoted", comma', blob: Buffer.from([0xca, 0xfe]), n: null } },
};

describe('render', () => {
  it('writes bigints as exact decimal strings and bytes as \\x hex', () => {
    const line = ndjsonLine(record);
    expect(line.endsWith('\n')).toBe(true);
    expect(line.split('\n')).toHaveLength(2);
    expect(JSON.parse(line)).toEqual({
      ...record,
      key: { id: '9007199254740993' },
      value: { op: 'u', after: { note: 'a "quoted", comma', blob: '\\xcafe', n: null } },
    });
    expect(jsonText(null)).toBe('null');
    expect(jsonText(-5n)).toBe('"-5"');
  });

  it('writes CSV rows with op, and key and value as JSON, quoted where needed', () => {
    expect(csvHeader()).toBe('topic,partition,offset,timestamp,schema_id,op,key,value\n');
    const rows = csvRows([record, { ...record, schemaId: null, key: 'req-1', value: null }]);
    const lines = rows.trimEnd().split('\n');
    expect(lines).toHaveLength(2);
    expect(lines[0]).toBe(
      'cdc.app.public.t,2,17,2026-01-01T00:00:00.000Z,5,u,"{""id"":""9007199254740993""}",' +
        '"{""op"":""u"",""after"":{""note"":""a \\""quoted\\"", comma"",""blob"":""\\\\xcafe"",""n"":null}}"',
    );
    expect(lines[1]).toBe('cdc.app.public.t,2,17,2026-01-01T00:00:00.000Z,,,"""req-1""",');
  });
});

describe('readableAvroTypeOptions', () => {
  it('reads decimals as exact text (also inside a union) and longs as bigint', () => {
    const type = avsc.Type.forSchema(
      {
        type: 'record',
        name: 'r',
        fields: [
          {
            name: 'amount',
            type: ['null', { type: 'bytes', logicalType: 'decimal', precision: 12, scale: 2 }, 'string'],
          },
          { name: 'at', type: { type: 'long', logicalType: 'timestamp-micros' } },
        ],
      },
      readableAvroTypeOptions(),
    );
    // written with the plain form: -12345 unscaled = -123.45
    const plain = avsc.Type.forSchema({
      type: 'record',
      name: 'r',
      fields: [
        { name: 'amount', type: ['null', 'bytes', 'string'] },
        { name: 'at', type: 'long' },
      ],
    });
    const bytes = plain.toBuffer({ amount: Buffer.from([0xcf, 0xc7]), at: 1 });
    expect(type.fromBuffer(bytes)).toEqual({ amount: '-123.45', at: 1n });
    const nan = plain.toBuffer({ amount: 'NaN', at: 2 });
    expect(type.fromBuffer(nan)).toEqual({ amount: 'NaN', at: 2n });
  });
});
