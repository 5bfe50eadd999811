import { randomBytes, randomInt } from 'node:crypto';
import avsc from 'avsc';
import { describe, expect, it } from 'vitest';
import { DsrCdcError } from '../../../src/errors.js';
import {
  type AvroType,
  avroFieldNames,
  avroFieldType,
  avroName,
  avroRecordSchema,
  avroTypeOptions,
  decimalText,
  type PgColumn,
  type PgType,
  toAvroValue,
} from '../../../src/events/pg-types.js';
import { arrayOf, base, numericMod } from '../../support/pg-types.js';

const column = (type: PgType, extra: Partial<PgColumn> = {}): PgColumn => ({
  name: 'c',
  type,
  typeMod: -1,
  notNull: false,
  ...extra,
});

const INT64_MAX = 2n ** 63n - 1n;
const INT64_MIN = -(2n ** 63n);

const mood: PgType = { oid: 0, name: 'mood', kind: 'enum', enumLabels: ['sad', 'ok', 'happy'] };
const money2: PgType = {
  oid: 0,
  name: 'money2',
  kind: 'domain',
  base: base('numeric'),
  baseTypeMod: numericMod(10, 2),
};
const box = base('box', { delimiter: ';' });

const COLUMNS = {
  int2: column(base('int2')),
  int4: column(base('int4')),
  int8: column(base('int8')),
  numeric38_0: column(base('numeric'), { typeMod: numericMod(38, 0) }),
  numeric38_10: column(base('numeric'), { typeMod: numericMod(38, 10) }),
  numeric5_2: column(base('numeric'), { typeMod: numericMod(5, 2) }),
  numeric3_m2: column(base('numeric'), { typeMod: numericMod(3, -2) }),
  numeric3_5: column(base('numeric'), { typeMod: numericMod(3, 5) }),
  numeric: column(base('numeric')),
  float4: column(base('float4')),
  float8: column(base('float8')),
  bool: column(base('bool')),
  text: column(base('text')),
  varchar: column(base('varchar'), { typeMod: 14 }),
  bpchar: column(base('bpchar'), { typeMod: 9 }),
  name: column(base('name')),
  citext: column(base('citext')),
  uuid: column(base('uuid')),
  date: column(base('date')),
  time: column(base('time')),
  timetz: column(base('timetz')),
  timestamp: column(base('timestamp')),
  timestamptz: column(base('timestamptz')),
  interval: column(base('interval')),
  json: column(base('json')),
  jsonb: column(base('jsonb')),
  bytea: column(base('bytea')),
  inet: column(base('inet')),
  cidr: column(base('cidr')),
  macaddr: column(base('macaddr')),
  mood: column(mood),
  money2: column(money2),
  domainText: column({ oid: 0, name: 'email', kind: 'domain', base: base('text') }),
  money: column(base('money')),
  point: column(base('point')),
  int4range: column({ oid: 0, name: 'int4range', kind: 'range' }),
  composite: column({ oid: 0, name: 'pair', kind: 'composite' }),
  tsvector: column(base('tsvector')),
  other: column({ oid: 0, name: 'int4multirange', kind: 'other' }),
  int4Array: column(arrayOf(base('int4'))),
  int4Array2: column(arrayOf(base('int4')), { dimensions: 2 }),
  int4Array3: column(arrayOf(base('int4')), { dimensions: 3 }),
  int8Array: column(arrayOf(base('int8'))),
  textArray: column(arrayOf(base('text'))),
  numericArray: column(arrayOf(base('numeric')), { typeMod: numericMod(5, 2) }),
  byteaArray: column(arrayOf(base('bytea'))),
  boxArray: column(arrayOf(box)),
  timestamptzArray: column(arrayOf(base('timestamptz'))),
  intervalArray: column(arrayOf(base('interval'))),
  moodArray: column(arrayOf(mood)),
} satisfies Record<string, PgColumn>;
type ColumnKey = keyof typeof COLUMNS;

/** The one field of a record schema holding `col`, encoded and decoded by avsc with our options. */
function roundTrip(col: PgColumn, value: unknown): unknown {
  const type = avsc.Type.forSchema(avroRecordSchema('Row', 'test', [col]) as never, avroTypeOptions());
  const [name = ''] = avroFieldNames([col]);
  return (type.fromBuffer(type.toBuffer({ [name]: value })) as Record<string, unknown>)[name];
}

/** µs since 1970 computed by JS Date (proleptic Gregorian, astronomical years): an independent oracle. */
function oracleMicros(
  y: number,
  mo: number,
  d: number,
  h = 0,
  mi = 0,
  s = 0,
  us = 0,
  offsetSeconds = 0,
): bigint {
  const date = new Date(0);
  date.setUTCFullYear(y, mo - 1, d);
  date.setUTCHours(h, mi, s, 0);
  return BigInt(date.getTime()) * 1000n + BigInt(us) - BigInt(offsetSeconds) * 1_000_000n;
}
const oracleDays = (y: number, mo: number, d: number) => Number(oracleMicros(y, mo, d) / 86_400_000_000n);
const dec = (hex: string) => Buffer.from(hex, 'hex');

// [column, pgoutput text, value avsc gets]
const VALUES: Array<[ColumnKey, string | null, unknown]> = [
  ['int4', null, null],
  ['int2', '-32768', -32768],
  ['int2', '32767', 32767],
  ['int4', '-2147483648', -2147483648],
  ['int4', '2147483647', 2147483647],
  ['int8', '0', 0n],
  ['int8', '9007199254740993', 9007199254740993n],
  ['int8', '9223372036854775807', INT64_MAX],
  ['int8', '-9223372036854775808', INT64_MIN],
  ['numeric38_0', '0', dec('00')],
  ['numeric38_0', '99999999999999999999999999999999999999', dec('4b3b4ca85a86c47a098a223fffffffff')],
  ['numeric38_0', '-99999999999999999999999999999999999999', dec('b4c4b357a5793b85f675ddc000000001')],
  ['numeric5_2', '1.28', dec('0080')],
  ['numeric5_2', '-1.28', dec('80')],
  ['numeric5_2', '-0.01', dec('ff')],
  ['numeric5_2', '999.99', dec('01869f')],
  ['numeric5_2', 'NaN', 'NaN'],
  ['numeric3_m2', '12300', dec('300c')],
  ['numeric3_m2', '-99900', dec('fe79c4')],
  ['numeric3_5', '0.00123', dec('7b')],
  ['numeric', '12345678901234567890.12', '12345678901234567890.12'],
  ['numeric', '0.00000000000000000001', '0.00000000000000000001'],
  ['numeric', 'NaN', 'NaN'],
  ['numeric', 'Infinity', 'Infinity'],
  ['numeric', '-Infinity', '-Infinity'],
  ['float4', '1.5e+30', Math.fround(1.5e30)],
  ['float4', '0.1', Math.fround(0.1)],
  ['float4', '3.4028235e+38', 3.4028234663852886e38],
  ['float4', '1e-45', Math.fround(1e-45)],
  ['float4', '-0', -0],
  ['float4', 'NaN', Number.NaN],
  ['float4', 'Infinity', Number.POSITIVE_INFINITY],
  ['float8', '-Infinity', Number.NEGATIVE_INFINITY],
  ['float8', 'NaN', Number.NaN],
  ['float8', '-0', -0],
  ['float8', '0.1', 0.1],
  ['float8', '1.7976931348623157e+308', Number.MAX_VALUE],
  ['float8', '5e-324', Number.MIN_VALUE],
  ['bool', 't', true],
  ['bool', 'f', false],
  ['text', '', ''],
  ['text', 'ünïcødé 中文 😀 "quoted" \\ back', 'ünïcødé 中文 😀 "quoted" \\ back'],
  ['varchar', 'ada@example.test', 'ada@example.test'],
  ['bpchar', 'a    ', 'a    '],
  ['name', 'pg_class', 'pg_class'],
  ['citext', 'MiXeD', 'MiXeD'],
  ['uuid', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11', 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'],
  ['date', '1970-01-01', 0],
  ['date', '1969-12-31', -1],
  ['date', '2024-02-29', oracleDays(2024, 2, 29)],
  ['date', '2100-03-01', oracleDays(2100, 3, 1)],
  ['date', '0001-01-01', oracleDays(1, 1, 1)],
  ['date', '0001-12-31 BC', oracleDays(0, 12, 31)],
  ['date', '0044-03-15 BC', oracleDays(-43, 3, 15)],
  ['date', '4713-01-01 BC', oracleDays(-4712, 1, 1)],
  ['date', '5874897-12-31', 2145042905],
  ['date', 'infinity', 2147483647],
  ['date', '-infinity', -2147483648],
  ['time', '00:00:00', 0n],
  ['time', '04:05:06.7', 14_706_700_000n],
  ['time', '23:59:59.999999', 86_399_999_999n],
  ['time', '24:00:00', 86_400_000_000n],
  ['timetz', '04:05:06.789+05:30', '04:05:06.789+05:30'],
  ['timetz', '04:05:06-08', '04:05:06-08:00'],
  ['timetz', '00:00:00+00:19:32', '00:00:00+00:19:32'],
  ['timetz', '24:00:00+00', '24:00:00+00:00'],
  ['timestamp', '1970-01-01 00:00:00', 0n],
  ['timestamp', '1969-12-31 23:59:59.999999', -1n],
  ['timestamp', '2024-01-02 03:04:05.123456', oracleMicros(2024, 1, 2, 3, 4, 5, 123456)],
  ['timestamp', '2024-01-02 03:04:05.5', oracleMicros(2024, 1, 2, 3, 4, 5, 500000)],
  ['timestamp', '1900-01-01 00:00:00', oracleMicros(1900, 1, 1)],
  ['timestamp', '2038-01-19 03:14:08', oracleMicros(2038, 1, 19, 3, 14, 8)],
  ['timestamp', '9999-12-31 23:59:59.999999', oracleMicros(9999, 12, 31, 23, 59, 59, 999999)],
  ['timestamp', '200000-01-01 00:00:00', oracleMicros(200000, 1, 1)],
  ['timestamp', '0044-03-15 12:00:00 BC', oracleMicros(-43, 3, 15, 12)],
  ['timestamp', '4714-11-24 00:00:00 BC', oracleMicros(-4713, 11, 24)],
  ['timestamp', '294247-01-10 04:00:54.775806', INT64_MAX - 1n],
  ['timestamp', 'infinity', INT64_MAX],
  ['timestamp', '-infinity', INT64_MIN],
  ['timestamptz', '2024-01-02 03:04:05.123456+00', oracleMicros(2024, 1, 2, 3, 4, 5, 123456)],
  ['timestamptz', '2024-01-02 08:34:05.123456+05:30', oracleMicros(2024, 1, 2, 3, 4, 5, 123456)],
  ['timestamptz', '2024-01-01 19:04:05.123456-08', oracleMicros(2024, 1, 2, 3, 4, 5, 123456)],
  ['timestamptz', '1900-01-01 00:00:00+00:19:32', oracleMicros(1900, 1, 1, 0, 0, 0, 0, 1172)],
  ['timestamptz', '0001-01-01 00:19:32+00:19:32 BC', oracleMicros(0, 1, 1)],
  ['timestamptz', '2100-06-01 12:00:00+02', oracleMicros(2100, 6, 1, 10)],
  ['timestamptz', '1950-06-01 12:00:00.000001+00', oracleMicros(1950, 6, 1, 12, 0, 0, 1)],
  ['timestamptz', 'infinity', INT64_MAX],
  ['timestamptz', '-infinity', INT64_MIN],
  ['interval', '00:00:00', { months: 0, days: 0, micros: 0n }],
  ['interval', '1 year 2 mons 3 days 04:05:06.789', { months: 14, days: 3, micros: 14_706_789_000n }],
  ['interval', '-1 years -2 mons +3 days -04:05:06.789', { months: -14, days: 3, micros: -14_706_789_000n }],
  ['interval', '-00:00:01', { months: 0, days: 0, micros: -1_000_000n }],
  ['interval', '-1 days +00:00:01', { months: 0, days: -1, micros: 1_000_000n }],
  ['interval', '1 mon', { months: 1, days: 0, micros: 0n }],
  ['interval', '1 day', { months: 0, days: 1, micros: 0n }],
  ['interval', '-178000000 years', { months: -2_136_000_000, days: 0, micros: 0n }],
  ['interval', '2562047788:00:54.775807', { months: 0, days: 0, micros: INT64_MAX }],
  ['interval', '-2562047788:00:54.775808', { months: 0, days: 0, micros: INT64_MIN }],
  ['interval', 'infinity', { months: 2147483647, days: 2147483647, micros: INT64_MAX }],
  ['interval', '-infinity', { months: -2147483648, days: -2147483648, micros: INT64_MIN }],
  ['json', '{"a": [1, 2.50, "ü"]}', '{"a": [1, 2.50, "ü"]}'],
  ['jsonb', '{"a": [1, 2.50, "ü"]}', '{"a": [1, 2.50, "ü"]}'],
  ['bytea', '\\x', Buffer.alloc(0)],
  ['bytea', '\\x0102fF', dec('0102ff')],
  ['inet', '192.168.0.1/24', '192.168.0.1/24'],
  ['cidr', '2001:db8::/32', '2001:db8::/32'],
  ['macaddr', '08:00:2b:01:02:03', '08:00:2b:01:02:03'],
  ['mood', 'happy', 'happy'],
  ['money2', '12345678.90', dec('499602d2')],
  ['domainText', 'ada@example.test', 'ada@example.test'],
  ['money', '$1,000.00', '$1,000.00'],
  ['point', '(1,2)', '(1,2)'],
  ['int4range', '[1,5)', '[1,5)'],
  ['composite', '(1,"a b")', '(1,"a b")'],
  ['tsvector', "'cat':1 'fat':2", "'cat':1 'fat':2"],
  ['other', '{[1,5)}', '{[1,5)}'],
  ['int4Array', '{}', []],
  ['int4Array', '{1,2,NULL}', [1, 2, null]],
  [
    'int4Array2',
    '{{1,2},{3,NULL}}',
    [
      [1, 2],
      [3, null],
    ],
  ],
  ['int4Array2', '{}', []],
  ['int4Array3', '{{{1}},{{2}}}', [[[1]], [[2]]]],
  ['int8Array', '{9223372036854775807,-9223372036854775808}', [INT64_MAX, INT64_MIN]],
  [
    'textArray',
    '{"a b","q\\"x","",NULL,"NULL",null2,"back\\\\slash","{1,2}",😀,ünï}',
    ['a b', 'q"x', '', null, 'NULL', 'null2', 'back\\slash', '{1,2}', '😀', 'ünï'],
  ],
  ['numericArray', '{1.50,NaN,NULL}', [dec('0096'), 'NaN', null]],
  ['byteaArray', '{"\\\\x01",NULL,"\\\\x"}', [dec('01'), null, Buffer.alloc(0)]],
  ['boxArray', '{(1,1),(0,0);(3,3),(2,2)}', ['(1,1),(0,0)', '(3,3),(2,2)']],
  ['timestamptzArray', '{"2024-01-01 00:00:00+00",NULL}', [oracleMicros(2024, 1, 1), null]],
  [
    'intervalArray',
    '{"1 day","-00:00:01"}',
    [
      { months: 0, days: 1, micros: 0n },
      { months: 0, days: 0, micros: -1_000_000n },
    ],
  ],
  ['moodArray', '{sad,happy}', ['sad', 'happy']],
];

describe('toAvroValue', () => {
  it.each(VALUES)('%s %j', (key, text, expected) => {
    const col = COLUMNS[key];
    const value = toAvroValue(col, text);
    expect(value).toEqual(expected);
    // exactness through Avro: what avsc decodes is exactly what we produced
    expect(roundTrip(col, value)).toEqual(expected);
  });

  it('maps -0 and NaN bit-exactly (toEqual alone would not tell -0 from 0)', () => {
    expect(Object.is(roundTrip(COLUMNS.float8, toAvroValue(COLUMNS.float8, '-0')), -0)).toBe(true);
    expect(Object.is(roundTrip(COLUMNS.float4, toAvroValue(COLUMNS.float4, '-0')), -0)).toBe(true);
    expect(Number.isNaN(roundTrip(COLUMNS.float4, toAvroValue(COLUMNS.float4, 'NaN')))).toBe(true);
  });

  it('decodes a large bytea exactly', () => {
    const bytes = randomBytes(1 << 20);
    const value = toAvroValue(COLUMNS.bytea, `\\x${bytes.toString('hex')}`);
    expect(Buffer.compare(roundTrip(COLUMNS.bytea, value) as Buffer, bytes)).toBe(0);
  });

  // [column, malformed or out-of-range text]
  const REJECTED: Array<[ColumnKey, string]> = [
    ['int2', '32768'],
    ['int4', '2147483648'],
    ['int4', '1.5'],
    ['int4', ''],
    ['int8', '9223372036854775808'],
    ['int8', '-9223372036854775809'],
    ['int8', '1e3'],
    ['numeric5_2', '1000.00'],
    ['numeric5_2', '1.234'],
    ['numeric5_2', 'Infinity'],
    ['numeric', '1e5'],
    ['numeric', ''],
    ['float8', 'abc'],
    ['float8', ''],
    ['bool', 'true'],
    ['uuid', 'not-a-uuid'],
    ['date', '2023-02-29'],
    ['date', '2024-13-01'],
    ['date', '01/02/2024'],
    ['time', '25:00:00'],
    ['time', '24:00:01'],
    ['timetz', '04:05:06'],
    ['timetz', '24:00:00.5+00'],
    ['timestamp', '2024-01-02 03:04:05+00'],
    ['timestamp', '2024-01-02T03:04:05'],
    ['timestamp', '294247-01-10 04:00:54.775807'],
    ['timestamp', '294276-12-31 23:59:59.999999'],
    ['timestamptz', '2024-01-02 03:04:05'],
    ['timestamptz', '2024-01-02 24:00:00+00'],
    ['interval', ''],
    ['interval', '1 fortnight'],
    ['interval', '3 days 1 year'],
    ['interval', '1 year 00:00:00 2 days'],
    ['interval', '00:60:00'],
    ['interval', '@ 1 hour'],
    ['interval', '200000000 years'],
    ['bytea', '\\xzz'],
    ['bytea', '\\x012'],
    ['bytea', 'abc'],
    ['int4Array', '{1,2'],
    ['int4Array', '{1,,2}'],
    ['int4Array', '{1}x'],
    ['int4Array', '{"1}'],
    ['int4Array', '1,2'],
    ['int4Array', '[0:1]={1,2}'],
    ['int4Array', '{{1,2},{3,4}}'],
    ['int4Array', '{1,x}'],
    ['int4Array2', '{1,2}'],
    ['int4Array2', '{{{1}}}'],
  ];

  it.each(REJECTED)('%s rejects %j naming the column but not the value', (key, text) => {
    const col = { ...COLUMNS[key], name: 'secret_col' };
    let error: unknown;
    try {
      toAvroValue(col, text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DsrCdcError);
    expect(error).toMatchObject({ code: 'EVENT_INVALID', field: 'secret_col' });
    const message = (error as Error).message;
    expect(message).toMatch(/^column "secret_col" \(/);
    if (text.length > 3) expect(message).not.toContain(text);
  });
});

describe('avroFieldType', () => {
  const tag = (pgType: string) => ({ 'pg.type': pgType });
  // [column, Avro type of the NOT NULL column]
  const TYPES: Array<[ColumnKey, AvroType]> = [
    ['int2', { type: 'int', ...tag('int2') }],
    ['int4', { type: 'int', ...tag('int4') }],
    ['int8', { type: 'long', ...tag('int8') }],
    [
      'numeric38_10',
      [
        { type: 'bytes', logicalType: 'decimal', precision: 38, scale: 10, ...tag('numeric') },
        { type: 'string', ...tag('numeric') },
      ],
    ],
    [
      'numeric3_m2',
      [
        { type: 'bytes', logicalType: 'decimal', precision: 5, scale: 0, ...tag('numeric') },
        { type: 'string', ...tag('numeric') },
      ],
    ],
    [
      'numeric3_5',
      [
        { type: 'bytes', logicalType: 'decimal', precision: 5, scale: 5, ...tag('numeric') },
        { type: 'string', ...tag('numeric') },
      ],
    ],
    ['numeric', { type: 'string', ...tag('numeric') }],
    ['float4', { type: 'float', ...tag('float4') }],
    ['float8', { type: 'double', ...tag('float8') }],
    ['bool', { type: 'boolean', ...tag('bool') }],
    ['text', { type: 'string', ...tag('text') }],
    ['bpchar', { type: 'string', ...tag('bpchar') }],
    ['uuid', { type: 'string', logicalType: 'uuid', ...tag('uuid') }],
    ['date', { type: 'int', logicalType: 'date', ...tag('date') }],
    ['time', { type: 'long', logicalType: 'time-micros', ...tag('time') }],
    ['timetz', { type: 'string', ...tag('timetz') }],
    ['timestamp', { type: 'long', logicalType: 'local-timestamp-micros', ...tag('timestamp') }],
    ['timestamptz', { type: 'long', logicalType: 'timestamp-micros', ...tag('timestamptz') }],
    ['jsonb', { type: 'string', ...tag('jsonb') }],
    ['bytea', { type: 'bytes', ...tag('bytea') }],
    ['inet', { type: 'string', ...tag('inet') }],
    ['mood', { type: 'string', 'pg.type': 'mood', 'pg.labels': ['sad', 'ok', 'happy'] }],
    [
      'money2',
      [
        { type: 'bytes', logicalType: 'decimal', precision: 10, scale: 2, ...tag('numeric') },
        { type: 'string', ...tag('numeric') },
      ],
    ],
    ['int4range', { type: 'string', ...tag('int4range') }],
    ['composite', { type: 'string', ...tag('pair') }],
    ['int4Array', { type: 'array', items: ['null', { type: 'int', ...tag('int4') }], ...tag('_int4') }],
    [
      'int4Array2',
      {
        type: 'array',
        items: { type: 'array', items: ['null', { type: 'int', ...tag('int4') }] },
        ...tag('_int4'),
      },
    ],
    [
      'numericArray',
      {
        type: 'array',
        items: [
          'null',
          { type: 'bytes', logicalType: 'decimal', precision: 5, scale: 2, ...tag('numeric') },
          { type: 'string', ...tag('numeric') },
        ],
        ...tag('_numeric'),
      },
    ],
  ];

  it.each(TYPES)('%s', (key, expected) => {
    expect(avroFieldType({ ...COLUMNS[key], notNull: true })).toEqual(expected);
    // nullable: a flat union with null first (Avro forbids unions inside unions)
    expect(avroFieldType(COLUMNS[key])).toEqual([
      'null',
      ...(Array.isArray(expected) ? expected : [expected]),
    ]);
  });

  it('maps interval to a signed record, not to Avro duration', () => {
    expect(avroFieldType({ ...COLUMNS.interval, notNull: true })).toMatchObject({
      type: 'record',
      name: 'Interval',
      namespace: 'dev.dsrcdc.pg',
      fields: [
        { name: 'months', type: 'int' },
        { name: 'days', type: 'int' },
        { name: 'micros', type: 'long' },
      ],
    });
  });

  it.each(Object.keys(COLUMNS) as ColumnKey[])('%s: the type is accepted by avsc, nullable or not', (key) => {
    for (const notNull of [true, false]) {
      const type = avroFieldType({ ...COLUMNS[key], notNull });
      expect(() => avsc.Type.forSchema(type as never, avroTypeOptions())).not.toThrow();
    }
  });

  it('returns a copy the caller may change', () => {
    (avroFieldType(COLUMNS.int4) as unknown[]).push('string');
    expect(avroFieldType(COLUMNS.int4)).toHaveLength(2);
  });
});

describe('avroRecordSchema', () => {
  it('keeps Avro names, sanitises the rest without collisions, and records the Postgres name', () => {
    const names = ['id', 'First Name', '1st', 'a-b', 'a_b', 'a.b', 'ünï', 'a_b_2', '_', 'select'];
    const columns = names.map((name) => ({ ...COLUMNS.text, name }));
    const schema = avroRecordSchema('my-table', 'dev.dsrcdc.src-1.public', columns);
    expect(schema.name).toBe('my_table');
    expect(schema.namespace).toBe('dev.dsrcdc.src_1.public');
    expect(schema.fields.map((f) => f.name)).toEqual([
      'id',
      'First_Name',
      '_1st',
      'a_b_3',
      'a_b',
      'a_b_4',
      '_n_',
      'a_b_2',
      '_',
      'select',
    ]);
    expect(schema.fields.map((f) => f['pg.column'])).toEqual(names);
    expect(() => avsc.Type.forSchema(schema as never, avroTypeOptions())).not.toThrow();
  });

  it('never renames an existing field when a column is added after it', () => {
    const first = avroFieldNames([{ ...COLUMNS.text, name: 'a-b' }]);
    const later = avroFieldNames([
      { ...COLUMNS.text, name: 'a-b' },
      { ...COLUMNS.text, name: 'a.b' },
    ]);
    expect(later[0]).toBe(first[0]);
    expect(new Set(later).size).toBe(2);
  });

  it('sanitises any string into an Avro name', () => {
    expect(avroName('ok_Name1')).toBe('ok_Name1');
    expect(avroName('')).toBe('_');
    expect(avroName('9lives')).toBe('_9lives');
    expect(avroName('e-mail')).toBe('e_mail');
  });

  it('has null defaults on nullable fields, none on NOT NULL ones, and all nullable on request', () => {
    const columns = [
      { ...COLUMNS.int8, name: 'id', notNull: true },
      { ...COLUMNS.text, name: 'note' },
    ];
    const schema = avroRecordSchema('Row', 'test', columns);
    expect(schema.fields[0]).toEqual({
      name: 'id',
      type: { type: 'long', 'pg.type': 'int8' },
      'pg.column': 'id',
    });
    expect(schema.fields[1]).toMatchObject({ name: 'note', default: null });
    const all = avroRecordSchema('Row', 'test', columns, { allNullable: true });
    expect(all.fields[0]).toMatchObject({ type: ['null', { type: 'long' }], default: null });
  });

  it('defines a named type once and references it after', () => {
    const columns = [
      { ...COLUMNS.interval, name: 'a' },
      { ...COLUMNS.interval, name: 'b', notNull: true },
      { ...COLUMNS.intervalArray, name: 'c' },
    ];
    const schema = avroRecordSchema('Row', 'test', columns);
    expect(schema.fields[1]?.type).toBe('dev.dsrcdc.pg.Interval');
    expect(schema.fields[2]?.type).toEqual([
      'null',
      { type: 'array', items: ['null', 'dev.dsrcdc.pg.Interval'], 'pg.type': '_interval' },
    ]);
    const type = avsc.Type.forSchema(schema as never, avroTypeOptions());
    const row = {
      a: toAvroValue(columns[0] as PgColumn, '-1 days +00:00:01'),
      b: toAvroValue(columns[1] as PgColumn, '1 year'),
      c: toAvroValue(columns[2] as PgColumn, '{"00:00:01",NULL}'),
    };
    expect(type.fromBuffer(type.toBuffer(row))).toEqual(row);
  });

  it('encodes a row of every mapped column through avsc and back unchanged', () => {
    const columns = Object.entries(COLUMNS).map(([name, col]) => ({ ...col, name }));
    const type = avsc.Type.forSchema(avroRecordSchema('Row', 'test', columns) as never, avroTypeOptions());
    const row: Record<string, unknown> = {};
    for (const [key, text] of VALUES) row[key] = toAvroValue(COLUMNS[key], text);
    for (const col of columns) row[col.name] ??= null;
    expect(type.fromBuffer(type.toBuffer(row))).toEqual(row);
  });
});

describe('avroTypeOptions', () => {
  const schema = { type: 'record', name: 'R', fields: [{ name: 'n', type: 'long' }] };

  it('is what makes int8 beyond 2^53 encodable: avsc alone refuses it', () => {
    expect(() => avsc.Type.forSchema(schema as never).toBuffer({ n: 2n ** 60n })).toThrow();
    const type = avsc.Type.forSchema(schema as never, avroTypeOptions());
    expect(type.fromBuffer(type.toBuffer({ n: 2n ** 60n + 1n }))).toEqual({ n: 2n ** 60n + 1n });
  });

  it('accepts safe-integer numbers on write, reads bigint, and renders big longs as JSON strings', () => {
    const type = avsc.Type.forSchema(schema as never, avroTypeOptions());
    expect(type.fromBuffer(type.toBuffer({ n: 42 }))).toEqual({ n: 42n });
    expect(type.isValid({ n: 2 ** 60 })).toBe(false);
    expect(type.isValid({ n: 2n ** 64n })).toBe(false);
    expect(type.toString({ n: INT64_MAX })).toBe('{"n":"9223372036854775807"}');
    expect(type.toString({ n: 7n })).toBe('{"n":7}');
  });

  it('gives fresh options, so the same named schema can be parsed twice', () => {
    avsc.Type.forSchema(schema as never, avroTypeOptions());
    expect(() => avsc.Type.forSchema(schema as never, avroTypeOptions())).not.toThrow();
    expect(avroTypeOptions()).not.toBe(avroTypeOptions());
  });
});

describe('decimalText', () => {
  it.each<[string, number, string]>([
    ['00', 2, '0.00'],
    ['ff', 2, '-0.01'],
    ['80', 2, '-1.28'],
    ['0080', 2, '1.28'],
    ['300c', 0, '12300'],
    ['7b', 5, '0.00123'],
    ['', 0, '0'],
  ])('%s scale %i is %s', (hex, scale, text) => {
    expect(decimalText(Buffer.from(hex, 'hex'), scale)).toBe(text);
  });
});

describe('Avro long (bigint)', () => {
  /** Avro's zigzag varint of n, computed on bigints: an oracle independent of avsc. */
  const zigzagVarint = (n: bigint): number[] => {
    let z = n >= 0n ? n << 1n : (-n << 1n) - 1n;
    const bytes: number[] = [];
    do {
      const low = Number(z & 0x7fn);
      z >>= 7n;
      bytes.push(z > 0n ? low | 0x80 : low);
    } while (z > 0n);
    return bytes;
  };
  const long = avsc.Type.forSchema('long', avroTypeOptions());
  const edges = [2n ** 30n, 2n ** 52n - 1n, 2n ** 52n, 2n ** 53n - 1n, 2n ** 53n, 2n ** 63n - 1n].flatMap(
    (n) => [n - 1n, n, n + 1n, -n - 1n, -n, -n + 1n],
  );

  it.each([0n, 1n, -1n, ...edges].filter((n) => n >= -(2n ** 63n) && n < 2n ** 63n))(
    '%s: the zigzag varint, read back exactly (fast path and bigint path agree at their border)',
    (n) => {
      const bytes = long.toBuffer(n);
      expect([...bytes]).toEqual(zigzagVarint(n));
      expect(long.fromBuffer(bytes)).toBe(n);
    },
  );

  it('accepts safe-integer numbers and reads them as bigint', () => {
    expect(long.fromBuffer(long.toBuffer(2 ** 52))).toBe(2n ** 52n);
    expect(long.fromBuffer(long.toBuffer(-42))).toBe(-42n);
  });
});

describe('properties (random values round-trip exactly)', () => {
  it('int8 over the whole int64 range', () => {
    for (let i = 0; i < 2000; i++) {
      const n = randomBytes(8).readBigInt64LE(0) >> BigInt(randomInt(0, 64));
      expect(roundTrip(COLUMNS.int8, toAvroValue(COLUMNS.int8, n.toString()))).toBe(n);
    }
  });

  it('numeric(p,s) decimals up to 38 digits, text → bytes → text', () => {
    for (let i = 0; i < 2000; i++) {
      const precision = randomInt(1, 39);
      const scale = randomInt(0, precision + 1);
      const col = column(base('numeric'), { typeMod: numericMod(precision, scale) });
      const digits = Array.from({ length: randomInt(1, precision + 1) }, () => randomInt(0, 10)).join('');
      const unscaled = BigInt(digits) * (randomInt(0, 2) === 0 ? 1n : -1n);
      const text = formatDecimal(unscaled, scale);
      const decoded = roundTrip(col, toAvroValue(col, text)) as Buffer;
      expect(decimalText(decoded, scale)).toBe(text);
    }
  });

  it('timestamptz in and out of JS Date range, with offsets', () => {
    for (let i = 0; i < 2000; i++) {
      const micros = BigInt(randomInt(-(2 ** 46), 2 ** 46)) * 1000n + BigInt(randomInt(0, 1000));
      const offsetMinutes = randomInt(-15 * 60, 15 * 60);
      const local = new Date(Number(micros / 1000n) + offsetMinutes * 60_000 - (micros % 1000n < 0n ? 1 : 0));
      const text = formatTimestamptz(
        local,
        Number(((micros % 1_000_000n) + 1_000_000n) % 1_000_000n),
        offsetMinutes,
      );
      expect(roundTrip(COLUMNS.timestamptz, toAvroValue(COLUMNS.timestamptz, text))).toBe(micros);
    }
  });

  it('intervals in IntervalStyle postgres', () => {
    for (let i = 0; i < 2000; i++) {
      const expected = {
        months: randomInt(-(2 ** 31) + 1, 2 ** 31 - 1) >> randomInt(0, 31),
        days: randomInt(-(2 ** 31) + 1, 2 ** 31 - 1) >> randomInt(0, 31),
        micros: randomBytes(8).readBigInt64LE(0) >> BigInt(randomInt(0, 64)),
      };
      const text = formatInterval(expected.months, expected.days, expected.micros);
      expect(roundTrip(COLUMNS.interval, toAvroValue(COLUMNS.interval, text))).toEqual(expected);
    }
  });
});

/** Postgres' numeric(p,s) text of an unscaled integer: exactly `scale` fractional digits. */
function formatDecimal(unscaled: bigint, scale: number): string {
  const digits = (unscaled < 0n ? -unscaled : unscaled).toString().padStart(scale + 1, '0');
  const text = scale > 0 ? `${digits.slice(0, -scale)}.${digits.slice(-scale)}` : digits;
  return unscaled < 0n ? `-${text}` : text;
}

/** timestamptz_out: 'YYYY-MM-DD HH:MM:SS[.ffffff]±HH[:MM]' with ' BC' for years ≤ 0. */
function formatTimestamptz(local: Date, micros: number, offsetMinutes: number): string {
  const year = local.getUTCFullYear();
  const two = (n: number) => String(n).padStart(2, '0');
  const fraction = micros === 0 ? '' : `.${String(micros).padStart(6, '0').replace(/0+$/, '')}`;
  const sign = offsetMinutes < 0 ? '-' : '+';
  const abs = Math.abs(offsetMinutes);
  const offset = `${sign}${two(Math.floor(abs / 60))}${abs % 60 === 0 ? '' : `:${two(abs % 60)}`}`;
  const clock = `${two(local.getUTCHours())}:${two(local.getUTCMinutes())}:${two(local.getUTCSeconds())}`;
  const day = `${String(year > 0 ? year : 1 - year).padStart(4, '0')}-${two(local.getUTCMonth() + 1)}-${two(local.getUTCDate())}`;
  return `${day} ${clock}${fraction}${offset}${year > 0 ? '' : ' BC'}`;
}

/** interval_out with IntervalStyle=postgres. */
function formatInterval(months: number, days: number, micros: bigint): string {
  const parts: string[] = [];
  let negativeBefore = false;
  const field = (n: number, unit: string) => {
    if (n === 0) return;
    parts.push(`${negativeBefore && n > 0 ? '+' : ''}${n} ${unit}${n === 1 ? '' : 's'}`);
    negativeBefore = n < 0;
  };
  field(Math.trunc(months / 12), 'year');
  field(months % 12, 'mon');
  field(days, 'day');
  if (micros !== 0n || parts.length === 0) {
    const abs = micros < 0n ? -micros : micros;
    const seconds = abs / 1_000_000n;
    const fraction = abs % 1_000_000n;
    const two = (n: bigint) => n.toString().padStart(2, '0');
    const sign = micros < 0n ? '-' : negativeBefore ? '+' : '';
    const frac = fraction === 0n ? '' : `.${fraction.toString().padStart(6, '0').replace(/0+$/, '')}`;
    parts.push(`${sign}${two(seconds / 3600n)}:${two((seconds / 60n) % 60n)}:${two(seconds % 60n)}${frac}`);
  }
  return parts.join(' ');
}
